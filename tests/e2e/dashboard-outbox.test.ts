import { expect, type Page } from '@playwright/test';
import {
	activeItem,
	everyFrame,
	openIncident,
	resolvedItem,
	secondPage,
	signIn,
	newTeam,
	SocketGate,
	test,
	timelineEntries,
	toggleTimeline,
	twoOnOneTeam
} from '../kit/e2e/dashboard.js';

// The incident actions sent through the socket's outbox (issue 20) in Chromium against the
// production build: shown at once and marked pending until the server answers, queued while
// offline, sent again after a reload, and applied exactly once, counted from what the server has
// (a page loaded afresh, rendered from the server's state).

const pendingMark = (page: Page, title: string) =>
	activeItem(page, title).getByTestId('incident-pending');

/** Adds an update through a row's timeline, opening it first. */
async function addUpdate(page: Page, title: string, text: string): Promise<void> {
	await toggleTimeline(activeItem(page, title), title);
	const field = page.getByLabel(`Update on ${title}`);
	await field.fill(text);
	await field.press('Enter');
	await expect(field).toHaveValue('');
}

/** The kinds of an incident's timeline as a page loaded now shows it: what the server has. */
async function timelineKinds(page: Page, title: string, resolved = false): Promise<string[]> {
	const item = (resolved ? resolvedItem : activeItem)(page, title);
	if (resolved) await page.getByTestId('recently-resolved').locator('summary').click();
	await toggleTimeline(item, title);
	return timelineEntries(item).evaluateAll((entries) =>
		entries.map((entry) => (entry as HTMLElement).dataset.kind ?? '')
	);
}

test.describe('incident actions through the outbox', () => {
	test('show at once, marked sending until the server answers, then confirmed', async ({
		page,
		context
	}) => {
		const gate = await SocketGate.on(context);
		await signIn(page, 'Ada', newTeam());
		// Every answer and room message waits: what the page shows meanwhile is its own.
		gate.toPage = everyFrame;
		await openIncident(page, 'Disk almost full');
		await expect(pendingMark(page, 'Disk almost full')).toHaveText('sending…');
		await expect(
			activeItem(page, 'Disk almost full').getByRole('button', { name: /^Resolve / })
		).toBeDisabled();
		gate.release();
		await expect(pendingMark(page, 'Disk almost full')).toHaveCount(0);

		gate.toPage = everyFrame;
		await page.getByRole('button', { name: 'Acknowledge Disk almost full' }).click();
		const row = activeItem(page, 'Disk almost full');
		await expect(row.getByTestId('incident-status')).toHaveText('acknowledged by Ada');
		await expect(pendingMark(page, 'Disk almost full')).toHaveText('sending…');
		gate.release();
		await expect(pendingMark(page, 'Disk almost full')).toHaveCount(0);

		gate.toPage = everyFrame;
		await addUpdate(page, 'Disk almost full', 'Cleaned the logs');
		await expect(timelineEntries(row)).toHaveCount(3);
		await expect(pendingMark(page, 'Disk almost full')).toHaveText('sending…');
		gate.release();
		await expect(pendingMark(page, 'Disk almost full')).toHaveCount(0);
		await expect(timelineEntries(row)).toHaveCount(3);

		gate.toPage = everyFrame;
		await page.getByRole('button', { name: 'Resolve Disk almost full' }).click();
		const resolved = resolvedItem(page, 'Disk almost full');
		await expect(page.getByTestId('resolved-count')).toHaveText('1');
		await expect(resolved.getByTestId('incident-pending')).toHaveText('sending…');
		gate.release();
		await expect(resolved.getByTestId('incident-pending')).toHaveCount(0);
		await expect(resolved.getByTestId('incident-status')).toHaveText('resolved by Ada');
	});

	test('made offline, they wait as queued and are applied once when the page is back', async ({
		page,
		context,
		browser,
		baseURL
	}) => {
		const other = await twoOnOneTeam(page, browser, baseURL!);
		for (const title of ['To acknowledge', 'To update', 'To resolve'])
			await openIncident(page, title);
		await expect(activeItem(other, 'To resolve')).toBeVisible();

		await context.setOffline(true);
		await expect(page.getByTestId('connection-badge')).toHaveText('Offline');
		await openIncident(page, 'Opened offline');
		await page.getByRole('button', { name: 'Acknowledge To acknowledge' }).click();
		await addUpdate(page, 'To update', 'Written offline');
		await page.getByRole('button', { name: 'Resolve To resolve' }).click();
		for (const title of ['Opened offline', 'To acknowledge', 'To update'])
			await expect(pendingMark(page, title)).toHaveText('queued');
		await expect(resolvedItem(page, 'To resolve').getByTestId('incident-pending')).toHaveText(
			'queued'
		);
		await expect(activeItem(other, 'To resolve')).toBeVisible();
		await expect(activeItem(other, 'Opened offline')).toHaveCount(0);

		await context.setOffline(false);
		await expect(page.getByTestId('connection-badge')).toHaveText('Live');
		await expect(page.getByTestId('incident-pending')).toHaveCount(0);
		await expect(page.getByTestId('incident-problem')).toHaveText('');

		// Once each, as the server has it.
		await other.reload();
		await expect(activeItem(other, 'Opened offline')).toHaveCount(1);
		expect(await timelineKinds(other, 'To acknowledge')).toEqual(['opened', 'acknowledged']);
		expect(await timelineKinds(other, 'To update')).toEqual(['opened', 'update']);
		expect(await timelineKinds(other, 'To resolve', true)).toEqual(['opened', 'resolved']);
		await other.context().close();
	});

	test('pending across a reload, they show again and are applied once, answered or not before it', async ({
		page,
		context,
		browser,
		baseURL
	}) => {
		const team = newTeam();
		const gate = await SocketGate.on(context);
		await signIn(page, 'Ada', team);
		await openIncident(page, 'Acknowledged across a reload');
		await openIncident(page, 'Updated across a reload');
		await expect(page.getByTestId('incident-pending')).toHaveCount(0);

		// Two the server applies but whose answers never reach this page, and one it never gets.
		gate.toPage = everyFrame;
		await openIncident(page, 'Opened across a reload');
		await page.getByRole('button', { name: 'Acknowledge Acknowledged across a reload' }).click();
		const other = await secondPage(browser, team, baseURL!);
		await expect(activeItem(other, 'Opened across a reload')).toBeVisible();
		await expect(
			activeItem(other, 'Acknowledged across a reload').getByTestId('incident-status')
		).toHaveText('acknowledged by Ada');
		gate.toServer = everyFrame;
		await addUpdate(page, 'Updated across a reload', 'Written before the reload');
		gate.toServer = undefined;

		// Reloaded, the page shows the three pending again, before the server said a word to it.
		await page.reload();
		await expect(page.getByTestId('incident-pending')).toHaveCount(3);
		await toggleTimeline(activeItem(page, 'Updated across a reload'), 'Updated across a reload');
		await expect(activeItem(page, 'Updated across a reload')).toContainText(
			'Written before the reload'
		);
		gate.release();
		await expect(page.getByTestId('connection-badge')).toHaveText('Live');
		await expect(page.getByTestId('incident-pending')).toHaveCount(0);
		await expect(page.getByTestId('incident-problem')).toHaveText('');

		await other.reload();
		await expect(activeItem(other, 'Opened across a reload')).toHaveCount(1);
		expect(await timelineKinds(other, 'Acknowledged across a reload')).toEqual([
			'opened',
			'acknowledged'
		]);
		expect(await timelineKinds(other, 'Updated across a reload')).toEqual(['opened', 'update']);
		await other.context().close();
	});
});
