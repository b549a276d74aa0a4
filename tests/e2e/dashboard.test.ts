import type { ChildProcess } from 'node:child_process';
import { expect } from '@playwright/test';
import { demoEnvironment } from '../../playwright.config.js';
import {
	activeItem,
	incident,
	incidentTitles,
	newTeam,
	openIncident,
	resolvedItem,
	signIn,
	test,
	twoOnOneTeam
} from '../kit/e2e/dashboard.js';
import { killServer, startServer } from '../kit/e2e/server.js';
import { freePort, startRedisProcess } from '../kit/servers/process.js';

// The live dashboard in Chromium against the production build (`npm run build && npm start`, started
// by playwright.config.ts). Every test signs in to its own team, so tests never see each other's data.

test.describe('the live dashboard', () => {
	test('shows Live, and an incident opened in one page appears in another', async ({
		page,
		browser,
		baseURL
	}) => {
		const other = await twoOnOneTeam(page, browser, baseURL!);
		await openIncident(page, 'Database connection timeout', 'critical');
		await expect(incident(other, 'Database connection timeout')).toBeVisible();
		await expect(other.getByTestId('incident-count')).toHaveText('1');
		await expect(other.getByTestId('activity-feed')).toContainText(
			'Ada opened “Database connection timeout”'
		);

		await openIncident(page, 'Checkout latency above 2 s');
		await expect(incident(other, 'Checkout latency above 2 s')).toBeVisible();
		await page.screenshot({ path: test.info().outputPath('dashboard.png') });
		await page.screenshot({ path: 'tests/e2e/output/dashboard.png' });

		await other.getByRole('button', { name: 'Resolve Database connection timeout' }).click();
		await expect(incident(page, 'Database connection timeout')).toBeHidden();
		expect(await incidentTitles(page)).toEqual(['Checkout latency above 2 s']);
		await other.context().close();
	});

	// Issue 12, defect 2: the sign-in cookie is not Secure on plain http, but its delete was (Kit's
	// default), so a browser on http://0.0.0.0:3000 ignored it and Sign out did nothing. (Chromium
	// treats 127.0.0.1 as secure, so the header is checked instead of the browser's behaviour.)
	test('signs out on plain http with a delete the browser accepts there', async ({
		page,
		baseURL
	}) => {
		await signIn(page, 'Ada', newTeam());
		const answer = page.waitForResponse((response) => response.url().includes('/signout'));
		await page.getByRole('button', { name: 'Sign out' }).click();
		const deleted = (await (await answer).headerValue('set-cookie')) ?? '';
		expect(baseURL).toMatch(/^http:/);
		expect(deleted).toMatch(/Max-Age=0/i);
		expect(deleted).not.toMatch(/;\s*Secure/i);
		await expect(page.getByRole('button', { name: 'Open the dashboard' })).toBeVisible();
		expect(await page.context().cookies()).toEqual([]);
	});

	test('shows a monitor flap as it happens', async ({ page }) => {
		const team = newTeam();
		await signIn(page, 'Ada', team);
		const monitors = page.getByTestId('monitor');
		await expect(monitors).toHaveCount(6);
		const before = await monitors.evaluateAll((cards) =>
			cards.map((card) => `${card.dataset.monitor}:${card.dataset.status}`)
		);
		// The simulator flaps one monitor of every team each interval; wait for this page to show it.
		await page.waitForFunction(
			(initial) => {
				const cards = [...document.querySelectorAll<HTMLElement>('[data-testid=monitor]')];
				return cards.some(
					(card) => !initial.includes(`${card.dataset.monitor}:${card.dataset.status}`)
				);
			},
			before,
			{ timeout: 10 * Number(demoEnvironment.DEMO_MONITOR_INTERVAL_MS) }
		);
		await expect(page.getByTestId('activity-feed')).toContainText(/ is (up|degraded|down)/);
	});

	test('after being offline, shows exactly what changed meanwhile', async ({
		page,
		context,
		browser,
		baseURL
	}) => {
		const other = await twoOnOneTeam(page, browser, baseURL!);
		await openIncident(other, 'Present before going offline');
		await expect(incident(page, 'Present before going offline')).toBeVisible();

		await context.setOffline(true);
		await expect(page.getByTestId('connection-badge')).toHaveText('Offline');
		await openIncident(other, 'Opened while offline');
		await openIncident(other, 'Opened and resolved while offline');
		await expect(incident(other, 'Opened and resolved while offline')).toBeVisible();
		await other.getByRole('button', { name: 'Resolve Opened and resolved while offline' }).click();
		await other.getByRole('button', { name: 'Resolve Present before going offline' }).click();
		await expect(other.getByTestId('incident-count')).toHaveText('1');
		// Nothing reached the offline page.
		expect(await incidentTitles(page)).toEqual(['Present before going offline']);

		await context.setOffline(false);
		await expect(page.getByTestId('connection-badge')).toHaveText('Live');
		// Live comes as the socket opens; the replay of what was missed follows it (retrying assertion).
		await expect(page.getByTestId('incident').locator('.title')).toHaveText([
			'Opened while offline'
		]);
		expect(await incidentTitles(page)).toEqual(await incidentTitles(other));
		await other.context().close();
	});
});

test.describe('a server that goes away', () => {
	let server: ChildProcess | undefined;

	test.afterEach(() => {
		server?.kill('SIGKILL');
	});

	test('shows Reconnecting with the attempt count while it is down, and Live once it is back', async ({
		page
	}) => {
		const team = newTeam();
		test.info().annotations.push({ type: 'refused-sockets-expected', description: 'server down' });
		const port = await freePort();
		server = await startServer(port);
		await signIn(page, 'Ada', team, `http://127.0.0.1:${port}/`);

		await killServer(server);
		const badge = page.getByTestId('connection-badge');
		await expect(badge).toHaveText(/Reconnecting… \(attempt [1-9]\d*\)$/);
		await expect(badge).toHaveText(/Reconnecting… \(attempt ([2-9]|\d{2,})\)$/, {
			timeout: 10_000
		});

		server = await startServer(port);
		await expect(badge).toHaveText('Live', { timeout: 30_000 });
		await openIncident(page, 'Back after a restart');
		await expect(incident(page, 'Back after a restart')).toBeVisible();
	});
});

test.describe('an action made while the server is down', () => {
	let server: ChildProcess | undefined;

	test.afterEach(() => {
		server?.kill('SIGKILL');
	});

	// Issue 12, defect 1 was a form sent with fetch replacing the page with "500 Failed to fetch".
	// Now the actions wait in the socket's outbox: shown at once as queued, sent once the server is
	// back. A restarted server of the memory store knows nothing of the team any more: the queued
	// open makes it again, and the queued resolve is refused and rolled back, saying why.
	test('keeps the page, shows it queued, and sends it once the server is back', async ({
		page
	}) => {
		test.info().annotations.push({ type: 'refused-sockets-expected', description: 'server down' });
		const port = await freePort();
		server = await startServer(port);
		await signIn(page, 'Ada', newTeam(), `http://127.0.0.1:${port}/`);
		await openIncident(page, 'Before the outage');
		await expect(page.getByTestId('incident-pending')).toHaveCount(0);
		await killServer(server);
		await expect(page.getByTestId('connection-badge')).toHaveText(/Reconnecting/);

		await openIncident(page, 'During the outage');
		await page.getByRole('button', { name: 'Resolve Before the outage' }).click();
		await expect(activeItem(page, 'During the outage').getByTestId('incident-pending')).toHaveText(
			'queued'
		);
		await expect(
			resolvedItem(page, 'Before the outage').getByTestId('incident-pending')
		).toHaveText('queued');

		server = await startServer(port);
		await expect(page.getByTestId('connection-badge')).toHaveText('Live', { timeout: 30_000 });
		await expect(page.getByTestId('incident-pending')).toHaveCount(0);
		await expect(page.getByTestId('incident-problem')).toHaveText(
			'Resolve “Before the outage”: That incident is no longer on the dashboard.'
		);
		await expect(page.getByTestId('incident').locator('.title')).toHaveText(['During the outage']);
	});
});

test.describe('two processes on Redis', () => {
	const children: ChildProcess[] = [];

	test.afterEach(() => {
		for (const child of children.splice(0)) child.kill('SIGKILL');
	});

	test('serve one dashboard: a change made through one process shows on a page of the other', async ({
		page,
		browser
	}) => {
		const redisPort = await freePort();
		children.push(await startRedisProcess(redisPort));
		const env = { REDIS_URL: `redis://127.0.0.1:${redisPort}` };
		const [portA, portB] = [await freePort(), await freePort()];
		children.push(await startServer(portA, env), await startServer(portB, env));

		const team = newTeam();
		await signIn(page, 'Ada', team, `http://127.0.0.1:${portA}/`);
		const other = await (await browser.newContext()).newPage();
		await signIn(other, 'Grace', team, `http://127.0.0.1:${portB}/`);

		await openIncident(page, 'Seen by both processes');
		await expect(incident(other, 'Seen by both processes')).toBeVisible();
		await other.getByRole('button', { name: 'Resolve Seen by both processes' }).click();
		await expect(incident(page, 'Seen by both processes')).toBeHidden();
		await other.context().close();
	});
});
