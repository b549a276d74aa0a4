import type { ChildProcess } from 'node:child_process';
import { expect, type Browser, type Cookie, type Page, type WebSocket } from '@playwright/test';
import {
	incident,
	incidentTitles,
	newTeam,
	openIncident,
	signIn,
	test
} from '../kit/e2e/dashboard.js';
import { startServer } from '../kit/e2e/server.js';
import { freePort, startRedisProcess } from '../kit/servers/process.js';

// Sessions in Chromium against production servers of the test's own: sign-out revokes the session
// for every tab and every process (two on one Redis), and the old cookie, copied before, opens
// nothing any more: no dashboard, no form, no socket.

/** How a socket opened with `token` from `page`'s origin ends: its first message's name, or its close. */
function socketWith(page: Page, token: string): Promise<string> {
	return page.evaluate(
		(token) =>
			new Promise<string>((resolve) => {
				const socket = new WebSocket(`ws://${location.host}/ws`);
				socket.onopen = () => socket.send(JSON.stringify({ name: 'auth', data: { token } }));
				socket.onmessage = ({ data }) => {
					resolve(String(JSON.parse(String(data)).name));
					socket.close();
				};
				socket.onclose = ({ code, reason }) => resolve(`closed ${code} ${reason}`);
			}),
		token
	);
}

/** What the old cookie still opens on `origin`: the page, a form action, a socket, a fresh token. */
async function whatTheCookieOpens(browser: Browser, cookie: Cookie, origin: string) {
	// A context of its own for each look: the server deletes a refused cookie from the browser.
	const context = await browser.newContext();
	try {
		await context.addCookies([cookie]);
		const page = await context.newPage();
		await page.goto(`${origin}/`);
		const dashboard = await page.getByTestId('connection-badge').count();
		await context.addCookies([cookie]);
		const form = await context.request.post(`${origin}/?/create`, {
			form: { title: 'Opened with an old cookie', severity: 'warning', project: 'web' },
			headers: { origin, accept: 'application/json', 'x-sveltekit-action': 'true' }
		});
		const action = (await form.json()) as { type: string; status?: number };
		await context.addCookies([cookie]);
		const token = await context.request.post(`${origin}/session`, { headers: { origin } });
		return {
			dashboard: dashboard == 1,
			form: action.type == 'failure' ? `failure ${action.status}` : action.type,
			socket: await socketWith(page, cookie.value),
			token: token.status()
		};
	} finally {
		await context.close();
	}
}

/** Resolves with the time (Date.now()) at which the page's next socket closes. */
function nextSocketClose(page: Page): Promise<number> {
	return new Promise((resolve) =>
		page.once('websocket', (socket: WebSocket) => socket.once('close', () => resolve(Date.now())))
	);
}

test.describe('sign-out on two processes on Redis', () => {
	const children: ChildProcess[] = [];

	test.afterEach(() => {
		for (const child of children.splice(0)) child.kill('SIGKILL');
	});

	test('closes every tab of the session on both processes, and the old cookie opens nothing any more', async ({
		browser
	}) => {
		test.setTimeout(60_000);
		const redisPort = await freePort();
		children.push(await startRedisProcess(redisPort));
		const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}` };
		const [portA, portB] = [await freePort(), await freePort()];
		children.push(await startServer(portA, env), await startServer(portB, env));
		const [originA, originB] = [portA, portB].map((port) => `http://127.0.0.1:${port}`);

		// One browser, one session (cookies go by host, not port): a tab on A signs out; another
		// tab on A and one on B watch.
		const context = await browser.newContext();
		const team = newTeam();
		const signingOut = await context.newPage();
		await signIn(signingOut, 'Ada', team, `${originA}/`);
		const tabs = { A: await context.newPage(), B: await context.newPage() };
		const closes = {
			A: nextSocketClose(tabs.A),
			B: nextSocketClose(tabs.B)
		};
		await tabs.A.goto(`${originA}/`);
		await tabs.B.goto(`${originB}/`);
		for (const tab of Object.values(tabs))
			await expect(tab.getByTestId('connection-badge')).toHaveText('Live', { timeout: 10_000 });
		const [cookie] = await context.cookies();
		expect(cookie.name).toBe('runesocket_session');

		// Until sign-out the copied cookie opens everything, on both processes.
		for (const origin of [originA, originB]) {
			expect(await whatTheCookieOpens(browser, cookie, origin)).toEqual({
				dashboard: true,
				form: 'success',
				socket: 'connected',
				token: 200
			});
		}

		const signedOutAt = Date.now();
		await signingOut.getByRole('button', { name: 'Sign out' }).click();
		await expect(signingOut.getByRole('button', { name: 'Open the dashboard' })).toBeVisible();
		const closedAfter = {
			A: (await closes.A) - signedOutAt,
			B: (await closes.B) - signedOutAt
		};
		test.info().annotations.push({
			type: 'sockets closed after sign-out (ms)',
			description: JSON.stringify(closedAfter)
		});
		// disconnectUser reaches every process within a second; the rest is the sign-out's request.
		expect(closedAfter.A).toBeLessThan(3_000);
		expect(closedAfter.B).toBeLessThan(3_000);
		// The tabs that watched say so: they show the sign-in, and do not reconnect.
		for (const tab of Object.values(tabs))
			await expect(tab.getByRole('button', { name: 'Open the dashboard' })).toBeVisible();

		for (const origin of [originA, originB]) {
			expect(await whatTheCookieOpens(browser, cookie, origin), origin).toEqual({
				dashboard: false,
				form: 'failure 401',
				socket: 'closed 4004 Session revoked',
				token: 401
			});
		}

		// Only the forms sent before the sign-out opened incidents.
		const again = await (await browser.newContext()).newPage();
		await signIn(again, 'Ada', team, `${originB}/`);
		expect(await incidentTitles(again)).toEqual([
			'Opened with an old cookie',
			'Opened with an old cookie'
		]);
		await again.context().close();
		await context.close();
	});
});

test.describe('a session that expires every few seconds', () => {
	let server: ChildProcess | undefined;

	test.afterEach(() => {
		server?.kill('SIGKILL');
	});

	test('is refreshed in place on the open socket, past its first expiry, and an unused copy expires', async ({
		page,
		browser
	}) => {
		const lifetime = 4_000;
		const port = await freePort();
		server = await startServer(port, { DEMO_SESSION_TTL_MS: String(lifetime) });
		const origin = `http://127.0.0.1:${port}`;
		const sockets: WebSocket[] = [];
		const frames: string[] = [];
		page.on('websocket', (socket) => {
			sockets.push(socket);
			socket.on('framereceived', ({ payload }) => frames.push(`in ${nameOf(payload)}`));
			socket.on('framesent', ({ payload }) => frames.push(`out ${nameOf(payload)}`));
		});
		const team = newTeam();
		await signIn(page, 'Ada', team, `${origin}/`);
		const signedInAt = Date.now();
		const [cookie] = await page.context().cookies();

		// Two refreshes: the page's first token has expired by the second.
		await expect
			.poll(() => frames.filter((frame) => frame == 'out auth').length, { timeout: 3 * lifetime })
			.toBeGreaterThanOrEqual(3);
		expect(Date.now() - signedInAt).toBeGreaterThan(lifetime / 2);
		await expect(page.getByTestId('connection-badge')).toHaveText('Live');
		expect(frames.filter((frame) => frame == 'in auth.refresh').length).toBeGreaterThanOrEqual(2);
		expect(sockets).toHaveLength(1);
		expect(sockets[0].isClosed()).toBe(false);
		// The refreshes renewed the cookie too: a form still goes through, after the first expiry.
		await expect.poll(() => Date.now() - signedInAt).toBeGreaterThan(lifetime);
		await openIncident(page, 'Opened on a refreshed session');
		await expect(incident(page, 'Opened on a refreshed session')).toBeVisible();
		expect(sockets).toHaveLength(1);

		// The cookie copied at sign-in was never renewed: it is expired, and the sign-in says so.
		const copy = await browser.newContext();
		await copy.addCookies([{ ...cookie, expires: -1 }]);
		const stale = await copy.newPage();
		await stale.goto(`${origin}/`);
		await expect(stale.getByRole('alert')).toHaveText('Your session expired: sign in again.');
		expect(await socketWith(stale, cookie.value)).toBe('closed 4001 Session expired');
		await copy.close();
	});
});

/** The name of a frame of the envelope dialect. */
function nameOf(payload: string | Buffer): string {
	try {
		return String((JSON.parse(String(payload)) as { name?: unknown }).name);
	} catch {
		return '?';
	}
}
