// A page of a Chromium that chrome-launcher started, driven over the DevTools protocol with only
// the Page domain enabled (and Runtime commands). Playwright and Puppeteer enable the Network domain, under which the
// renderer reports every WebSocket frame to the driver: at 10,000 messages a second that is work on
// the page's own main thread, which would be measured as the page's.
import { launch, type LaunchedChrome } from 'chrome-launcher';
import WebSocket from 'ws';
import { CHROMIUM, CHROMIUM_FLAGS } from '../../playwright.config.js';

const COMMAND_TIMEOUT_MS = 30_000;

interface CdpAnswer {
	id?: number;
	result?: unknown;
	error?: { message: string };
}

/**
 * One page target of the browser.
 *
 * @example
 * const page = await CdpPage.open(browser);
 * await page.send('Page.navigate', { url });
 */
export class CdpPage {
	readonly #socket: WebSocket;
	readonly #pending = new Map<number, (answer: CdpAnswer) => void>();
	#nextId = 1;

	private constructor(socket: WebSocket) {
		this.#socket = socket;
		socket.on('message', (data) => {
			const answer = JSON.parse(String(data)) as CdpAnswer;
			// Events (no id) go unread: only the Page domain sends some, a few per navigation.
			if (answer.id !== undefined) this.#pending.get(answer.id)?.(answer);
		});
		socket.on('close', () => {
			for (const settle of this.#pending.values()) settle({ error: { message: 'CDP closed' } });
		});
	}

	/** Opens a new blank page in `browser` and connects to it. */
	static async open(browser: LaunchedChrome): Promise<CdpPage> {
		const response = await fetch(`http://127.0.0.1:${browser.port}/json/new?about:blank`, {
			method: 'PUT'
		});
		const target = (await response.json()) as { webSocketDebuggerUrl: string };
		const socket = new WebSocket(target.webSocketDebuggerUrl, { perMessageDeflate: false });
		await new Promise<void>((resolve, reject) => {
			socket.once('open', () => resolve());
			socket.once('error', reject);
		});
		const page = new CdpPage(socket);
		// Scripts added to run on every new document only run once the Page domain is enabled.
		await page.send('Page.enable');
		return page;
	}

	/** Sends a command and resolves with its result; rejects with the protocol's error. */
	send<Result = unknown>(method: string, params: Record<string, unknown> = {}): Promise<Result> {
		const id = this.#nextId++;
		return new Promise((resolve, reject) => {
			const timer = setTimeout(() => {
				this.#pending.delete(id);
				reject(new Error(`CDP ${method} timed out`));
			}, COMMAND_TIMEOUT_MS);
			this.#pending.set(id, (answer) => {
				clearTimeout(timer);
				this.#pending.delete(id);
				if (answer.error) reject(new Error(`CDP ${method}: ${answer.error.message}`));
				else resolve(answer.result as Result);
			});
			this.#socket.send(JSON.stringify({ id, method, params }));
		});
	}

	/** Evaluates `expression` in the page (awaiting a promise) and returns its value as JSON. */
	async evaluate<Value>(expression: string): Promise<Value> {
		const { result, exceptionDetails } = await this.send<{
			result: { value?: unknown };
			exceptionDetails?: { text: string; exception?: { description?: string } };
		}>('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true });
		if (exceptionDetails) {
			throw new Error(
				`In the page: ${exceptionDetails.exception?.description ?? exceptionDetails.text}`
			);
		}
		return result.value as Value;
	}

	/** Evaluates `expression` every 100 ms until it is truthy; throws after `timeoutMs`. */
	async waitFor(expression: string, timeoutMs: number): Promise<void> {
		const deadline = Date.now() + timeoutMs;
		while (!(await this.evaluate<boolean>(`Boolean(${expression})`))) {
			if (Date.now() > deadline) throw new Error(`Timed out waiting for ${expression}`);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
	}

	close(): void {
		this.#socket.close();
	}
}

/**
 * Starts Debian's Chromium headless at a 1280×720 window, with the flags that keep it off the
 * network; `kill()` it when done.
 *
 * @example
 * const browser = await launchChromium();
 * browser.kill();
 */
export function launchChromium(): Promise<LaunchedChrome> {
	return launch({
		chromePath: CHROMIUM,
		chromeFlags: ['--headless=new', '--window-size=1280,720', ...CHROMIUM_FLAGS]
	});
}
