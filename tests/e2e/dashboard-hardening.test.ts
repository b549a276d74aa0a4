import { connect } from 'node:net';
import { parse } from 'devalue';
import { expect, test as plainTest, type APIResponse, type Page } from '@playwright/test';
import { newTeam, signIn, test } from '../kit/e2e/dashboard.js';
import { killServer, startServer } from '../kit/e2e/server.js';
import { freePort } from '../kit/servers/process.js';

// Issue 17, found by attacking the built demo: its bounds under a scripted client (a full
// timeline, resolve cycles), names and projects no form should take, one address taking every
// team, and responses without the headers pages have.

/** Posts a form action as the page's own script does (an answer in JSON, not a page). */
async function act(
	page: Page,
	baseURL: string,
	action: string,
	form: Record<string, string>
): Promise<{ status: number; data: Record<string, unknown> }> {
	const response = await page.request.post(`/?/${action}`, {
		form,
		headers: { origin: baseURL, 'x-sveltekit-action': 'true' }
	});
	const answer = (await response.json()) as { status: number; data?: string };
	return { status: answer.status, data: answer.data ? parse(answer.data) : {} };
}

test.describe('the demo’s bounds against a scripted client', () => {
	test('a full timeline cannot be acknowledged, still resolves, and Recently resolved keeps 10', async ({
		page,
		baseURL
	}) => {
		await signIn(page, 'Ada', newTeam());
		const opened = async (title: string) => {
			const { status, data } = await act(page, baseURL!, 'create', {
				title,
				severity: 'info',
				project: 'web'
			});
			expect(status).toBe(200);
			return String(data.created);
		};
		const uuid = await opened('Timeline filler');
		let updates = 0;
		while ((await act(page, baseURL!, 'update', { uuid, text: `Note ${updates}` })).status == 200)
			updates++;
		expect(updates).toBe(28);
		const acknowledged = await act(page, baseURL!, 'acknowledge', { uuid });
		expect(acknowledged).toEqual({
			status: 409,
			data: { acknowledge: expect.stringMatching(/^That timeline is full/) }
		});
		expect((await act(page, baseURL!, 'resolve', { uuid })).status).toBe(200);
		await expect(page.getByTestId('resolved-count')).toHaveText('1');

		for (let cycle = 0; cycle < 12; cycle++) {
			const next = await opened(`Cycle ${cycle}`);
			expect((await act(page, baseURL!, 'resolve', { uuid: next })).status).toBe(200);
		}
		await expect(page.getByTestId('resolved-count')).toHaveText('10');
		await page.reload();
		await expect(page.getByTestId('resolved-count')).toHaveText('10');
		await expect(page.getByTestId('incident-count')).toHaveText('0');
	});

	test('a project every object has (constructor, __proto__, toString) is refused', async ({
		page,
		baseURL
	}) => {
		await signIn(page, 'Ada', newTeam());
		for (const project of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
			const answer = await act(page, baseURL!, 'create', {
				title: 'Sneaky',
				severity: 'info',
				project
			});
			expect(answer, project).toEqual({ status: 400, data: { create: 'Pick a project.' } });
		}
		await page.reload();
		await expect(page.getByTestId('incident-count')).toHaveText('0');
	});
});

test.describe('sign-in', () => {
	// The plain test: Chromium logs the refused form's 400 as a console error, which is expected here.
	plainTest(
		'refuses names with control, invisible or direction-changing characters, saying why',
		async ({ page, baseURL }) => {
			for (const name of [
				'Ada\u202Eecalevol',
				'A\u200Bda',
				'Ada\u0000',
				'\u2066Ada\u2069',
				'Ada\u001b[2J'
			]) {
				const response = await page.request.post('/?/signin', {
					form: { name, team: newTeam() },
					headers: { origin: baseURL!, accept: 'text/html' },
					maxRedirects: 0
				});
				expect(response.status(), JSON.stringify(name)).toBe(400);
				expect(response.headers()['set-cookie']).toBeUndefined();
				expect(await response.text()).toContain('The name has invisible or control characters');
			}
			// In the browser, the form says so.
			await page.goto('/');
			await page.getByLabel('Your name').fill('Ada\u202Eecalevol');
			await page.getByRole('button', { name: 'Open the dashboard' }).click();
			await expect(page.getByText(/The name has invisible or control characters/)).toBeVisible();
		}
	);

	test('keeps ordinary names of any script', async ({ page }) => {
		await signIn(page, '李小龍', newTeam());
		await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
		await expect(page.locator('.user')).toContainText('李小龍');
	});
});

/**
 * Signs in from outside a browser, as a script would (asking for a page, as a form does: other
 * requests get SvelteKit's JSON); `headers` as a proxy would add them.
 */
function signInFrom(port: number, team: string, headers: Record<string, string> = {}) {
	const origin = `http://127.0.0.1:${port}`;
	return fetch(`${origin}/?/signin`, {
		method: 'POST',
		body: new URLSearchParams({ name: 'Ada', team }),
		headers: { origin, accept: 'text/html', ...headers },
		redirect: 'manual'
	});
}

test.describe('new teams per client address', () => {
	test('one address opens DEMO_NEW_TEAMS_PER_CLIENT teams, then gets 429 saying how long to wait', async () => {
		const port = await freePort();
		const server = await startServer(port, { DEMO_NEW_TEAMS_PER_CLIENT: '2' });
		try {
			expect((await signInFrom(port, 'first')).status).toBe(303);
			expect((await signInFrom(port, 'second')).status).toBe(303);
			const refused = await signInFrom(port, 'third');
			expect(refused.status).toBe(429);
			expect(await refused.text()).toMatch(
				/Too many new teams from your address: sign in to one you already opened, or start another in 10 minutes\./
			);
			// Its own teams stay open to it.
			expect((await signInFrom(port, 'first')).status).toBe(303);
		} finally {
			await killServer(server);
		}
	});

	test('behind a proxy, ADDRESS_HEADER and XFF_DEPTH say whose address counts', async () => {
		const port = await freePort();
		const server = await startServer(port, {
			DEMO_NEW_TEAMS_PER_CLIENT: '1',
			ADDRESS_HEADER: 'x-forwarded-for',
			XFF_DEPTH: '1'
		});
		const via = (client: string) => ({ 'x-forwarded-for': `spoofed-by-client, ${client}` });
		try {
			expect((await signInFrom(port, 'a', via('203.0.113.1'))).status).toBe(303);
			expect((await signInFrom(port, 'b', via('203.0.113.1'))).status).toBe(429);
			expect((await signInFrom(port, 'c', via('203.0.113.2'))).status).toBe(303);
		} finally {
			await killServer(server);
		}
	});
});

/** The headers every response of the demo must carry, page or not. */
function expectBaseline(response: APIResponse, what: string): void {
	const headers = response.headers();
	expect(headers['x-content-type-options'], what).toBe('nosniff');
	expect(headers['x-frame-options'], what).toBe('DENY');
	expect(headers['referrer-policy'], what).toBe('same-origin');
	expect(headers['content-security-policy'], what).toMatch(/frame-ancestors 'none'/);
}

/** What the server answers a WebSocket upgrade it refuses: the raw response head. */
function refusedUpgrade(port: number, path: string, origin: string): Promise<string> {
	return new Promise((resolve, reject) => {
		const socket = connect(port, '127.0.0.1', () =>
			socket.write(
				`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nOrigin: ${origin}\r\n` +
					'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n' +
					'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n'
			)
		);
		let answer = '';
		socket.on('data', (chunk) => (answer += chunk.toString()));
		socket.on('close', () => resolve(answer));
		socket.on('error', reject);
	});
}

test.describe('every response of the production server', () => {
	test('carries nosniff, DENY and same-origin: static files, /metrics, a 404, the cross-site 403', async ({
		page,
		request
	}) => {
		await signIn(page, 'Ada', newTeam());
		const assets = await page.evaluate(() =>
			[
				...document.querySelectorAll<HTMLScriptElement | HTMLLinkElement>('script[src], link[href]')
			].map((element) => ('src' in element ? element.src : element.href))
		);
		expect(assets.filter((url) => url.endsWith('.js')).length).toBeGreaterThan(0);
		expect(assets.filter((url) => url.endsWith('.css')).length).toBeGreaterThan(0);
		for (const url of [...assets, '/favicon.svg', '/favicon.ico', '/metrics', '/no-such-page']) {
			const response = await request.get(url);
			expect(response.status(), url).toBeLessThan(500);
			expectBaseline(response, url);
		}
		const favicon = await request.get('/favicon.svg');
		expect(favicon.headers()['content-security-policy']).toMatch(/default-src 'none'/);

		const crossSite = await request.post('/?/signin', {
			form: { name: 'Mallory', team: 'acme' },
			headers: { origin: 'http://evil.example' }
		});
		expect(crossSite.status()).toBe(403);
		expectBaseline(crossSite, 'the cross-site 403');
	});

	test('says nosniff when it refuses an upgrade', async ({ baseURL }) => {
		const { port } = new URL(baseURL!);
		const unrouted = await refusedUpgrade(Number(port), '/nowhere', baseURL!);
		expect(unrouted).toMatch(/^HTTP\/1\.1 404 /);
		expect(unrouted).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
		const crossSite = await refusedUpgrade(Number(port), '/ws', 'http://evil.example');
		expect(crossSite).toMatch(/^HTTP\/1\.1 4\d\d /);
		expect(crossSite).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/i);
	});
});
