import type { ChildProcess } from 'node:child_process';
import { expect, type Page } from '@playwright/test';
import {
	newTeam,
	openIncident,
	secondPage,
	signIn,
	test,
	twoOnOneTeam
} from '../kit/e2e/dashboard.js';
import { killServer, startServer } from '../kit/e2e/server.js';
import { freePort } from '../kit/servers/process.js';

// The monitors as people look at them (sparklines, uptime bars, toasts), who else is looking, and
// what the page shows before its script ran and after its server restarted (issue 12).

const latencies = (page: Page) => page.getByTestId('latency').allTextContents();

test.describe('the monitors', () => {
	test('draw a sparkline and an hour of uptime each, and the response times move live', async ({
		page
	}) => {
		await signIn(page, 'Ada', newTeam());
		const cards = page.getByTestId('monitor');
		await expect(cards).toHaveCount(6);
		// A new team's monitors come with a past: every card has a line and an uptime figure.
		await expect(cards.locator('svg.sparkline path[d^="M"]')).toHaveCount(6);
		await expect(cards.getByRole('img', { name: /^Last hour: up \d/ })).toHaveCount(6);
		await expect(cards.getByText(/% up · last hour/)).toHaveCount(6);

		// Every monitor is checked every 2 s: the shown response times change without a reload.
		const before = await latencies(page);
		await expect.poll(() => latencies(page), { timeout: 10_000 }).not.toEqual(before);
	});

	test('pop a toast when one goes down, which the keyboard can dismiss', async ({ page }) => {
		await signIn(page, 'Ada', newTeam());
		// Monitors flap every 700 ms in this environment; sooner or later one goes down.
		const toast = page
			.getByTestId('toast')
			.filter({ hasText: / is down/ })
			.first();
		await expect(toast).toBeVisible({ timeout: 20_000 });
		const text = await toast.locator('span').textContent();
		await toast.getByRole('button', { name: `Dismiss: ${text}` }).focus();
		await page.keyboard.press('Enter');
		await expect(page.getByTestId('toast').filter({ hasText: text! })).toHaveCount(0);
	});
});

test.describe('incident toasts', () => {
	test('pop up on every page of the team when a critical incident opens, not for a warning', async ({
		page,
		browser,
		baseURL
	}) => {
		const other = await twoOnOneTeam(page, browser, baseURL!);
		await openIncident(other, 'Only a warning', 'warning');
		await openIncident(other, 'Payments are failing', 'critical');
		const toasts = page.getByTestId('toast').filter({ hasText: /^Critical incident/ });
		await expect(toasts.locator('span')).toHaveText(['Critical incident: Payments are failing']);
		await expect(page.getByTestId('toast').filter({ hasText: 'Only a warning' })).toHaveCount(0);
		await other.context().close();
	});
});

test.describe('who is looking', () => {
	test('shows everyone on the team’s dashboard, and forgets who left', async ({
		page,
		browser,
		baseURL
	}) => {
		const team = newTeam();
		await signIn(page, 'Ada Lovelace', team);
		const viewers = page.getByTestId('viewers');
		await expect(viewers).toContainText('Only you');
		const other = await secondPage(browser, team, baseURL!, 'Grace Hopper');
		await expect(viewers).toContainText('1 more here');
		await expect(viewers.locator('.visually-hidden')).toHaveText([
			'Ada Lovelace (you)',
			'Grace Hopper'
		]);
		await expect(other.getByTestId('viewers').locator('.visually-hidden')).toHaveText([
			'Grace Hopper (you)',
			'Ada Lovelace'
		]);
		await other.context().close();
		await expect(viewers).toContainText('Only you');
	});
});

test.describe('the first paint', () => {
	// Issue 12, defect 3: before the script ran, the badge said "Offline" with a red dot.
	test('says Connecting… until the page’s script had its chance', async ({ browser, baseURL }) => {
		const team = newTeam();
		const withoutScript = await browser.newContext({ baseURL, javaScriptEnabled: false });
		const page = await withoutScript.newPage();
		await page.goto('/');
		await page.getByLabel('Your name').fill('Ada');
		await page.getByLabel('Team').fill(team);
		await page.getByRole('button', { name: 'Open the dashboard' }).click();
		await expect(page.getByTestId('monitor')).toHaveCount(6);
		await expect(page.getByTestId('connection-badge')).toHaveText('Connecting…');
		await expect(page.getByTestId('connection-badge')).toHaveAttribute('data-state', 'connecting');
		await withoutScript.close();
	});
});

test.describe('a restarted server', () => {
	let server: ChildProcess | undefined;
	test.afterEach(async () => {
		if (server) await killServer(server);
	});

	// Issue 12, defect 4: every lost room asked for the same snapshot, and the grid flashed empty.
	test('costs the page one snapshot, and the monitors never leave the screen', async ({ page }) => {
		test.info().annotations.push({ type: 'refused-sockets-expected', description: 'restart' });
		const port = await freePort();
		server = await startServer(port);
		// Snapshot requests per socket the page opened: a connection that drops before its answer
		// makes the next one ask again, which is right; four lost rooms asking four times is not.
		const snapshotRequests: number[] = [];
		page.on('websocket', (socket) => {
			const index = snapshotRequests.push(0) - 1;
			socket.on('framesent', ({ payload }) => {
				if (String(payload).includes('dashboard.snapshot')) snapshotRequests[index]!++;
			});
		});
		await signIn(page, 'Ada', newTeam(), `http://127.0.0.1:${port}/`);
		await expect(page.getByTestId('monitor')).toHaveCount(6);
		// The fewest cards the grid ever held, from here on, seen by the page itself.
		await page.evaluate(() => {
			const grid = document.querySelector('[data-testid=monitor-grid]')!;
			const record = window as unknown as { fewestCards: number };
			record.fewestCards = grid.children.length;
			new MutationObserver(() => {
				record.fewestCards = Math.min(record.fewestCards, grid.children.length);
			}).observe(grid, { childList: true });
		});

		await killServer(server);
		server = await startServer(port);
		await expect(page.getByTestId('connection-badge')).toHaveText('Live', { timeout: 30_000 });
		// A new server has no history: every room is unrecoverable, and the page asks once. Whichever
		// socket asks: the page may open another after the one that asked (reading only the last
		// socket's count missed the request then, and failed a page that did everything right).
		await expect
			.poll(() => Math.max(...snapshotRequests.slice(1)), { timeout: 10_000 })
			.toBeGreaterThan(0);
		await expect(page.getByTestId('monitor')).toHaveCount(6);
		expect(
			await page.evaluate(() => (window as unknown as { fewestCards: number }).fewestCards)
		).toBe(6);
		// And it is live again: checks of the new server move the response times.
		const before = await latencies(page);
		await expect.poll(() => latencies(page), { timeout: 10_000 }).not.toEqual(before);
		expect(snapshotRequests[0]).toBe(0);
		expect(Math.max(...snapshotRequests)).toBe(1);
	});

	// The page's first connection met a restarted server: every room it was rendered with is
	// unrecoverable before the first `Connected`, which the once-per-connection guard used to
	// count as a reload already done, so the page kept what it was rendered with.
	test('reloads a page whose first connection meets a restarted server', async ({
		page,
		context
	}) => {
		test.info().annotations.push({ type: 'refused-sockets-expected', description: 'restart' });
		const port = await freePort();
		const base = `http://127.0.0.1:${port}/`;
		server = await startServer(port);
		await signIn(page, 'Ada', newTeam(), base);
		const late = await context.newPage();
		let sent = 0;
		late.on('websocket', (socket) => {
			socket.on('framesent', ({ payload }) => {
				if (String(payload).includes('dashboard.snapshot')) sent++;
			});
		});
		// Its scripts wait for the restart: the page is rendered by the first server and connects to
		// the second.
		let restart!: () => void;
		const restarted = new Promise<void>((resolve) => (restart = resolve));
		await late.route('**/*.js', async (route) => {
			await restarted;
			await route.continue();
		});
		await late.goto(base, { waitUntil: 'commit' });
		await expect(late.getByTestId('monitor')).toHaveCount(6);
		await killServer(server);
		server = await startServer(port);
		restart();
		await expect(late.getByTestId('connection-badge')).toHaveText('Live', { timeout: 30_000 });
		await expect.poll(() => sent, { timeout: 10_000 }).toBe(1);
		await expect(late.getByTestId('monitor')).toHaveCount(6);
	});
});
