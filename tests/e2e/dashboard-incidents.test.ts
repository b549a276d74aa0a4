import { expect, type Locator, type Page } from '@playwright/test';
import {
	activeItem,
	allButAnswers,
	incident,
	incidentTitles,
	newTeam,
	openIncident,
	resolvedItem,
	signIn,
	SocketGate,
	test,
	timelineEntries as entries,
	toggleTimeline,
	twoOnOneTeam
} from '../kit/e2e/dashboard.js';

// The incidents panel in Chromium against the production build: timelines, acknowledge / update /
// resolve live on every page of a team, the severity filter, Recently resolved, a lost race, and
// the panel at phone width, on a wide screen and in both colour schemes.

/** Opens the Recently resolved part, collapsed by default. */
const openRecentlyResolved = (page: Page) =>
	page.getByTestId('recently-resolved').locator('summary').click();

test.describe('incident actions', () => {
	test('an acknowledgement and an update made on one page appear on the other page’s timeline', async ({
		page,
		browser,
		baseURL
	}) => {
		const other = await twoOnOneTeam(page, browser, baseURL!);
		await openIncident(page, 'Payments failing');
		const theirs = activeItem(other, 'Payments failing');
		await expect(theirs.getByTestId('incident-status')).toHaveText('open');

		await toggleTimeline(theirs, 'Payments failing');
		await expect(
			theirs.getByRole('button', { name: 'Payments failing', exact: true })
		).toHaveAttribute('aria-expanded', 'true');
		await expect(entries(theirs)).toHaveCount(1);
		await expect(entries(theirs).first()).toContainText('Opened by Ada');
		await expect(entries(theirs).first().locator('time')).toHaveAttribute(
			'datetime',
			/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/
		);

		await page.getByRole('button', { name: 'Acknowledge Payments failing' }).click();
		await expect(theirs.getByTestId('incident-status')).toHaveText('acknowledged by Ada');
		await expect(entries(theirs)).toHaveCount(2);
		await expect(entries(theirs).nth(1)).toContainText('Acknowledged by Ada');
		// Acknowledging is for open incidents only: the button is gone from both pages.
		for (const each of [page, other])
			await expect(each.getByRole('button', { name: 'Acknowledge Payments failing' })).toHaveCount(
				0
			);

		const mine = activeItem(page, 'Payments failing');
		await toggleTimeline(mine, 'Payments failing');
		const updateField = page.getByLabel('Update on Payments failing');
		await updateField.fill('Rolled back the 14:02 deploy');
		await updateField.press('Enter');
		await expect(updateField).toHaveValue('');
		await expect(entries(theirs)).toHaveCount(3);
		await expect(entries(theirs).nth(2)).toContainText('Update from Ada');
		await expect(entries(theirs).nth(2)).toContainText('Rolled back the 14:02 deploy');
		await expect(entries(mine)).toHaveCount(3);
		await other.context().close();
	});

	test('a resolved incident moves to Recently resolved, newest first, on both pages', async ({
		page,
		browser,
		baseURL
	}) => {
		const other = await twoOnOneTeam(page, browser, baseURL!);
		await openIncident(page, 'Disk almost full');
		await openIncident(page, 'Cron job late', 'info');
		await expect(activeItem(other, 'Cron job late')).toBeVisible();

		await page.getByRole('button', { name: 'Resolve Disk almost full' }).click();
		await expect(incident(page, 'Disk almost full')).toBeHidden();
		await other.getByRole('button', { name: 'Resolve Cron job late' }).click();
		for (const each of [page, other]) {
			await expect(each.getByTestId('resolved-count')).toHaveText('2');
			await expect(each.getByTestId('incident-count')).toHaveText('0');
			await expect(each.getByText('No active incidents.')).toBeVisible();
			// Collapsed until asked for.
			const list = each.getByTestId('resolved-list');
			await expect(list).toBeHidden();
			await openRecentlyResolved(each);
			await expect(list).toBeVisible();
			await expect(list.getByTestId('resolved-incident').locator('.title')).toHaveText([
				'Cron job late',
				'Disk almost full'
			]);
			const disk = resolvedItem(each, 'Disk almost full');
			await expect(disk.getByTestId('incident-status')).toHaveText('resolved by Ada');
			await expect(disk.getByRole('button', { name: /^Resolve / })).toHaveCount(0);
			await toggleTimeline(disk, 'Disk almost full');
			await expect(entries(disk).last()).toContainText('Resolved by Ada');
			await expect(disk.getByLabel('Update on Disk almost full')).toHaveCount(0);
		}
		await other.context().close();
	});

	// Issue 12, defect 5: someone else resolved it a moment before, and this page did not know yet.
	test('a resolve that lost the race shows the server’s refusal inline', async ({
		page,
		browser,
		baseURL
	}) => {
		const team = newTeam();
		await signIn(page, 'Ada', team);
		// Grace's page hears the server's room messages only when the test lets them through: her
		// page stays stale for exactly as long as the test needs, without waiting on any timing.
		const context = await browser.newContext({ baseURL });
		const gate = await SocketGate.on(context);
		const other = await context.newPage();
		await signIn(other, 'Grace', team);
		await openIncident(page, 'Queue backlog growing');
		await expect(activeItem(other, 'Queue backlog growing')).toBeVisible();
		await toggleTimeline(activeItem(page, 'Queue backlog growing'), 'Queue backlog growing');
		await toggleTimeline(activeItem(other, 'Queue backlog growing'), 'Queue backlog growing');

		// Her own requests' answers still come: what is held is what would tell her it is resolved.
		gate.toPage = allButAnswers;
		await page.getByRole('button', { name: 'Resolve Queue backlog growing' }).click();
		await expect(page.getByTestId('resolved-count')).toHaveText('1');
		await expect(page.getByTestId('incident-pending')).toHaveCount(0);
		// Grace still sees it open, and resolves it too: it moves at once, then the refusal rolls it
		// back and says why.
		await expect(other.getByTestId('incident-count')).toHaveText('1');
		await other.getByRole('button', { name: 'Resolve Queue backlog growing' }).click();
		const problem = other.getByTestId('incident-problem');
		await expect(problem).toHaveText(
			'Resolve “Queue backlog growing”: That incident is already resolved.'
		);
		await expect(other.getByTestId('incident-count')).toHaveText('1');
		await expect(other.getByTestId('resolved-count')).toHaveText('0');
		await expect(other.getByTestId('incident-pending')).toHaveCount(0);

		gate.release();
		await expect(incident(other, 'Queue backlog growing')).toBeHidden();
		await expect(other.getByTestId('resolved-count')).toHaveText('1');
		// The message outlives the row it was about.
		await expect(problem).toHaveText(/That incident is already resolved\./);
		// Ada's own resolve went through: she has no message.
		await expect(page.getByTestId('incident-problem')).toHaveText('');
		await context.close();
	});
});

test.describe('the severity filter', () => {
	test('shows only the chosen severity, with a count per severity that follows the incidents', async ({
		page
	}) => {
		await signIn(page, 'Ada', newTeam());
		await openIncident(page, 'Primary database down', 'critical');
		await openIncident(page, 'Slow checkout', 'warning');
		await openIncident(page, 'Webhook retries rising', 'warning');
		await openIncident(page, 'Certificate renews in 7 days', 'info');
		const count = (severity: string) => page.getByTestId(`severity-count-${severity}`);
		const counts = async () =>
			Promise.all(['all', 'critical', 'warning', 'info'].map((s) => count(s).textContent()));
		await expect(count('info')).toHaveText('1');
		expect(await counts()).toEqual(['4', '1', '2', '1']);
		const filter = page.getByTestId('severity-filter');
		const boxesBefore = await filter
			.locator('label')
			.evaluateAll((labels) =>
				labels.map((label) => JSON.stringify(label.getBoundingClientRect()))
			);

		await page.getByRole('radio', { name: /^Critical/ }).check();
		expect(await incidentTitles(page)).toEqual(['Primary database down']);
		await expect(page.getByTestId('incident-count')).toHaveText('4');

		// A radio group: the arrow keys move the choice.
		await page.getByRole('radio', { name: /^Critical/ }).press('ArrowRight');
		await expect(page.getByRole('radio', { name: /^Warning/ })).toBeChecked();
		expect(await incidentTitles(page)).toEqual(['Webhook retries rising', 'Slow checkout']);

		await page.getByRole('button', { name: 'Resolve Slow checkout' }).click();
		await expect(count('warning')).toHaveText('1');
		expect(await counts()).toEqual(['3', '1', '1', '1']);
		expect(await incidentTitles(page)).toEqual(['Webhook retries rising']);

		await page.getByRole('radio', { name: /^Critical/ }).check();
		await page.getByRole('button', { name: 'Resolve Primary database down' }).click();
		await expect(count('critical')).toHaveText('0');
		await expect(page.getByText('No active critical incidents.')).toBeVisible();

		await page.getByRole('radio', { name: /^Info/ }).check();
		expect(await incidentTitles(page)).toEqual(['Certificate renews in 7 days']);
		await page.getByRole('radio', { name: /^All/ }).check();
		expect(await incidentTitles(page)).toEqual([
			'Certificate renews in 7 days',
			'Webhook retries rising'
		]);
		// Counts changed; the filter's choices did not move.
		const boxesAfter = await filter
			.locator('label')
			.evaluateAll((labels) =>
				labels.map((label) => JSON.stringify(label.getBoundingClientRect()))
			);
		expect(boxesAfter).toEqual(boxesBefore);
	});
});

/**
 * Where an element is relative to the incidents section, and how big, rounded to the pixel: what
 * the panel itself can move, whatever the sections above it do.
 */
const box = (locator: Locator) =>
	locator.evaluate((element) => {
		const { x, y, width, height } = element.getBoundingClientRect();
		const section = document.querySelector('[aria-labelledby=incidents-title]')!;
		const origin = section.getBoundingClientRect();
		return [x - origin.x, y - origin.y, width, height].map(Math.round);
	});

test.describe('the incidents panel’s layout', () => {
	test('at 390 px wide the form’s controls stretch, nothing overflows, and an empty panel stays small', async ({
		page
	}) => {
		await page.setViewportSize({ width: 390, height: 844 });
		await signIn(page, 'Ada', newTeam());
		const scroller = page.getByTestId('incident-list').locator('..');
		const [, , , emptyHeight] = await box(scroller);
		// The list's line and the Recently resolved line: nowhere near the 26rem a wide screen keeps.
		expect(emptyHeight).toBeLessThan(140);

		const [, , titleWidth] = await box(page.getByPlaceholder('What is wrong?'));
		const [, , severityWidth] = await box(page.getByLabel('Severity'));
		const [, , projectWidth] = await box(page.getByLabel('Project'));
		// Two selects side by side under a full-width title field.
		expect(severityWidth).toBeGreaterThan(titleWidth / 2 - 10);
		expect(projectWidth).toBe(severityWidth);

		await openIncident(page, 'A rather long incident title that cannot fit on one line of a phone');
		const item = activeItem(
			page,
			'A rather long incident title that cannot fit on one line of a phone'
		);
		await toggleTimeline(
			item,
			'A rather long incident title that cannot fit on one line of a phone'
		);
		await expect(item.getByPlaceholder('What changed?')).toBeVisible();
		expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(
			390
		);
		const [, , , filledHeight] = await box(scroller);
		expect(filledHeight).toBeGreaterThan(emptyHeight);
		await page.getByTestId('incident-list').scrollIntoViewIfNeeded();
		await page.screenshot({ path: 'tests/e2e/output/incidents-390-light.png' });
		await page.emulateMedia({ colorScheme: 'dark' });
		await page.screenshot({ path: 'tests/e2e/output/incidents-390-dark.png' });
	});

	test('on a wide screen, incidents coming, going and opening move nothing on the page', async ({
		page
	}) => {
		await page.setViewportSize({ width: 1280, height: 900 });
		await signIn(page, 'Ada', newTeam());
		const region = page.getByRole('region', { name: /^Active incidents/ });
		const watched = [
			region,
			page.getByTestId('incident-list').locator('..'),
			page.getByRole('region', { name: /^Live events/ })
		];
		const before = await Promise.all(watched.map(box));
		await openIncident(page, 'First of several', 'critical');
		for (const title of ['Second of several', 'Third of several', 'Fourth of several'])
			await openIncident(page, title);
		await toggleTimeline(activeItem(page, 'Third of several'), 'Third of several');
		await page.getByRole('button', { name: 'Resolve First of several' }).click();
		await expect(page.getByTestId('resolved-count')).toHaveText('1');
		await openRecentlyResolved(page);
		expect(await Promise.all(watched.map(box))).toEqual(before);
		await page.screenshot({ path: 'tests/e2e/output/incidents-wide.png' });
	});

	for (const colorScheme of ['light', 'dark'] as const)
		test(`every text of the panel has a contrast of at least 4.5:1 (${colorScheme})`, async ({
			page
		}) => {
			await page.emulateMedia({ colorScheme });
			await signIn(page, 'Ada', newTeam());
			await openIncident(page, 'Critical one', 'critical');
			await openIncident(page, 'Warning one', 'warning');
			await openIncident(page, 'Info one', 'info');
			await page.getByRole('button', { name: 'Acknowledge Warning one' }).click();
			await expect(activeItem(page, 'Warning one').getByTestId('incident-status')).toHaveText(
				'acknowledged by Ada'
			);
			await page.getByRole('button', { name: 'Resolve Info one' }).click();
			await expect(page.getByTestId('resolved-count')).toHaveText('1');
			await openRecentlyResolved(page);
			await toggleTimeline(activeItem(page, 'Warning one'), 'Warning one');
			await toggleTimeline(resolvedItem(page, 'Info one'), 'Info one');
			await page.getByRole('radio', { name: /^Warning/ }).check();
			await page.getByRole('radio', { name: /^All/ }).check();

			const region = page.getByRole('region', { name: /^Active incidents/ });
			const lowest = await region.evaluate(lowestContrasts);
			expect(lowest.length).toBeGreaterThan(20);
			expect(lowest.filter((text) => text.ratio < 4.5)).toEqual([]);
		});
});

/**
 * Every visible text under `root` with its contrast ratio against the background it is drawn on
 * (the nearest ancestor with an opaque background). Runs in the page.
 */
function lowestContrasts(root: Element): { text: string; ratio: number }[] {
	const channels = (color: string): number[] => {
		const match = color.match(/^rgba?\(([^)]+)\)$/);
		if (!match) throw new Error(`a colour the test cannot read: ${color}`);
		const [red, green, blue, alpha = 1] = match[1]
			.split(/[,\s/]+/)
			.filter(Boolean)
			.map(Number);
		return [red, green, blue, alpha];
	};
	const luminance = ([red, green, blue]: number[]) => {
		const linear = (value: number) => {
			const channel = value / 255;
			return channel <= 0.03928 ? channel / 12.92 : ((channel + 0.055) / 1.055) ** 2.4;
		};
		return 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue);
	};
	const background = (element: Element | null): number[] => {
		for (let at = element; at; at = at.parentElement) {
			const color = channels(getComputedStyle(at).backgroundColor);
			if (color[3] == 1) return color;
			if (color[3] != 0) throw new Error(`a translucent background the test cannot judge: ${at}`);
		}
		return [255, 255, 255, 1];
	};
	const found: { text: string; ratio: number }[] = [];
	const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
	for (let node = walker.nextNode(); node; node = walker.nextNode()) {
		const element = node.parentElement!;
		const text = node.textContent!.trim();
		// Disabled controls are exempt from the contrast rule (WCAG 1.4.3).
		if (!text || !element.checkVisibility() || element.closest(':disabled')) continue;
		const foreground = luminance(channels(getComputedStyle(element).color));
		const behind = luminance(background(element));
		const ratio = (Math.max(foreground, behind) + 0.05) / (Math.min(foreground, behind) + 0.05);
		found.push({ text, ratio: Math.round(ratio * 100) / 100 });
	}
	return found;
}
