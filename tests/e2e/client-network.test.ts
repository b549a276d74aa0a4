import { randomUUID } from 'node:crypto';
import {
	expect,
	test as base,
	type APIRequestContext,
	type BrowserContext,
	type Page
} from '@playwright/test';
import type { LabEvent, LabStats } from '../kit/e2e/lab.js';

/** A lab event without its timestamp, for comparing whole sequences. */
type Untimed<Event> = Event extends unknown ? Omit<Event, 'at'> : never;

const untimed = ({ at, ...event }: LabEvent): Untimed<LabEvent> => event;

/** Generous for one local state change, yet far below the 60 s backoff the page is configured with. */
const STATE_TIMEOUT = 10_000;

/** One lab page in Chromium, and its connections as the lab server counts them. */
class LabPage {
	readonly id = randomUUID();
	readonly page: Page;
	readonly #request: APIRequestContext;

	constructor(page: Page, request: APIRequestContext) {
		this.page = page;
		this.#request = request;
	}

	/** Loads the page, which creates the client (and connects unless `connect=0`). */
	async open(query: Record<string, string> = {}): Promise<void> {
		const search = new URLSearchParams({ lab: this.id, ...query });
		await this.page.goto(`/?${search}`);
		await this.page.waitForFunction(() => 'lab' in window, null, { timeout: STATE_TIMEOUT });
	}

	async expectState(state: string): Promise<void> {
		await expect(this.page.locator('body')).toHaveAttribute('data-state', state, {
			timeout: STATE_TIMEOUT
		});
	}

	/** Every event recorded so far, or from index `from` on. */
	events(from = 0): Promise<LabEvent[]> {
		return this.page.evaluate((start) => window.lab.events.slice(start), from);
	}

	async untimedEvents(from = 0): Promise<Untimed<LabEvent>[]> {
		return (await this.events(from)).map(untimed);
	}

	/** How many events were recorded: pass it to `events()` to read only what happens next. */
	mark(): Promise<number> {
		return this.page.evaluate(() => window.lab.events.length);
	}

	async stats(): Promise<LabStats> {
		const response = await this.#request.get(`/stats?lab=${this.id}`);
		expect(response.ok()).toBe(true);
		return (await response.json()) as LabStats;
	}

	/** Waits (with a timeout) until the server's counts for this page equal `expected`. */
	async expectStats(expected: LabStats): Promise<void> {
		await expect.poll(() => this.stats(), { timeout: STATE_TIMEOUT }).toEqual(expected);
	}

	onLine(): Promise<boolean> {
		return this.page.evaluate(() => navigator.onLine);
	}
}

const test = base.extend<{ lab: LabPage; browserErrors: string[] }>({
	// Auto: every test fails if the page logged a console error or threw, even when it never asks.
	browserErrors: [
		async ({ page }, use) => {
			const errors: string[] = [];
			page.on('console', (message) => {
				if (message.type() == 'error') errors.push(`console.error: ${message.text()}`);
			});
			page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
			await use(errors);
			expect(errors).toEqual([]);
		},
		{ auto: true }
	],
	lab: async ({ page, request }, use) => {
		await use(new LabPage(page, request));
	}
});

/** Goes offline and waits until the page itself says so, so the `offline` event has fired. */
async function goOffline(context: BrowserContext, lab: LabPage): Promise<void> {
	await context.setOffline(true);
	await lab.page.waitForFunction(() => !navigator.onLine, null, { timeout: STATE_TIMEOUT });
}

test.describe('SocketClient network awareness in Chromium', () => {
	test('Chromium flips navigator.onLine and fires offline/online as the client assumes', async ({
		context,
		lab
	}) => {
		// connect=0: only the page's own listeners run, so this checks the browser alone.
		await lab.open({ connect: '0' });
		expect(await lab.onLine()).toBe(true);

		await goOffline(context, lab);
		await context.setOffline(false);
		await lab.page.waitForFunction(() => navigator.onLine, null, { timeout: STATE_TIMEOUT });

		// Each event fires once, with navigator.onLine already updated when listeners run.
		expect(await lab.untimedEvents()).toEqual([
			{ type: 'offline', onLine: false },
			{ type: 'online', onLine: true }
		]);
		expect(await lab.stats()).toEqual({ opened: 0, open: 0, closes: [] });
	});

	test('connects on load and shows its state on the page', async ({ lab }) => {
		await lab.open();
		await lab.expectState('connected');

		expect(await lab.untimedEvents()).toEqual([
			{ type: 'state', state: 'connecting' },
			{ type: 'state', state: 'connected' },
			{ type: 'Connected', reconnected: false, recovered: true }
		]);
		await lab.expectStats({ opened: 1, open: 1, closes: [] });
	});

	test('closes and pauses while offline, then reconnects at once when online', async ({
		context,
		lab
	}) => {
		await lab.open();
		await lab.expectState('connected');
		await lab.expectStats({ opened: 1, open: 1, closes: [] });
		const firstSocket = await lab.page.evaluateHandle(() => window.lab.client.socket);

		const offlineMark = await lab.mark();
		await goOffline(context, lab);
		await lab.expectState('disconnected');

		// The whole reaction to `offline`, in order. Scheduling a reconnect is synchronous in the
		// client, so an attempt (were one made) would already be recorded here: none is.
		expect(await lab.untimedEvents(offlineMark)).toEqual([
			{ type: 'offline', onLine: false },
			{ type: 'state', state: 'disconnected' },
			{ type: 'Disconnected', code: 1001, reason: 'Paused', willReconnect: true }
		]);
		// Chromium leaves an open WebSocket alone when offline; the client closed it itself.
		expect(await lab.page.evaluate(() => window.lab.client.socket)).toBeNull();
		// 2 is CLOSING (its close frame is held while offline), 3 CLOSED.
		expect([2, 3]).toContain(await firstSocket.evaluate((socket) => socket?.readyState));

		const onlineMark = await lab.mark();
		await context.setOffline(false);
		await lab.expectState('connected');

		// `online` reconnects with no delay: the attempt says so (`delay: 0`), where the backoff would
		// have waited up to 60 s.
		const afterOnline = await lab.events(onlineMark);
		expect(afterOnline.map(untimed)).toEqual([
			{ type: 'online', onLine: true },
			{ type: 'state', state: 'reconnecting' },
			{ type: 'ReconnectAttempt', attempt: 1, delay: 0 },
			{ type: 'state', state: 'connected' },
			{ type: 'Connected', reconnected: true, recovered: true }
		]);

		// Chromium's offline emulation holds WebSocket frames, so the server only now receives the
		// client's close of the first socket (1000 "Paused") and sees the second connection.
		await lab.expectStats({ opened: 2, open: 1, closes: [{ code: 1000, reason: 'Paused' }] });
		expect(await lab.untimedEvents()).not.toContainEqual(
			expect.objectContaining({ type: 'error' })
		);
	});

	test('reconnects at once after every one of several offline/online flaps', async ({
		context,
		lab
	}) => {
		await lab.open();
		await lab.expectState('connected');

		for (let attempt = 1; attempt <= 3; attempt++) {
			await goOffline(context, lab);
			await lab.expectState('disconnected');
			await context.setOffline(false);
			await lab.expectState('connected');
			await lab.expectStats({
				opened: attempt + 1,
				open: 1,
				closes: Array.from({ length: attempt }, () => ({ code: 1000, reason: 'Paused' }))
			});
		}

		// Short-lived connections keep counting attempts, but `online` skips the backoff each time.
		const attempts = (await lab.untimedEvents()).filter(
			(event) => event.type == 'ReconnectAttempt'
		);
		expect(attempts).toEqual([
			{ type: 'ReconnectAttempt', attempt: 1, delay: 0 },
			{ type: 'ReconnectAttempt', attempt: 2, delay: 0 },
			{ type: 'ReconnectAttempt', attempt: 3, delay: 0 }
		]);
		const disconnects = (await lab.untimedEvents()).filter((event) => event.type == 'Disconnected');
		expect(disconnects).toHaveLength(3);
		expect(disconnects).toEqual(
			Array(3).fill({ type: 'Disconnected', code: 1001, reason: 'Paused', willReconnect: true })
		);
	});

	test('connect() while already offline waits for the network without a failed attempt', async ({
		context,
		lab
	}) => {
		await lab.open({ connect: '0' });
		await goOffline(context, lab);
		const start = await lab.mark();
		await lab.page.evaluate(() => window.lab.client.connect());
		expect(await lab.page.evaluate(() => window.lab.client.connectionState)).toBe('disconnected');

		expect(await lab.page.evaluate(() => window.lab.client.pausedBy)).toBe('offline');

		await context.setOffline(false);
		await lab.expectState('connected');
		// No 'connecting' and no error first: the only attempt is the one `online` started. The one
		// state change before it says the client is now paused (offline), no longer stopped.
		expect(await lab.untimedEvents(start)).toEqual([
			{ type: 'state', state: 'disconnected' },
			{ type: 'online', onLine: true },
			{ type: 'state', state: 'reconnecting' },
			{ type: 'ReconnectAttempt', attempt: 1, delay: 0 },
			{ type: 'state', state: 'connected' },
			{ type: 'Connected', reconnected: false, recovered: true }
		]);
		await lab.expectStats({ opened: 1, open: 1, closes: [] });
	});
});
