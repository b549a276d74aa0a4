import { randomUUID } from 'node:crypto';
import { expect, test as base, type Page } from '@playwright/test';

// The dashboard page without SvelteKit's client (csr = false): the server renders it, and one
// module of our own (src/routes/dashboard-island.ts) hydrates the dashboard in it. Its incident forms
// go through the socket when JavaScript runs (src/routes/components/incident-actions.svelte.ts) and
// post as plain forms when not.

const test = base.extend<{ consoleMessages: string[] }>({
	// Auto: a warning (Svelte's hydration_mismatch is one) or an error in the console fails the test,
	// unless an 'expected-console' annotation's pattern matches it.
	consoleMessages: [
		async ({ context }, use, testInfo) => {
			const messages: string[] = [];
			context.on('console', (message) => {
				if (['warning', 'error'].includes(message.type()))
					messages.push(`${message.type()}: ${message.text()}`);
			});
			context.on('weberror', (error) => messages.push(`exception: ${error.error().message}`));
			await use(messages);
			const expected = testInfo.annotations
				.filter((note) => note.type == 'expected-console')
				.map((note) => new RegExp(note.description ?? ''));
			expect(messages.filter((text) => !expected.some((pattern) => pattern.test(text)))).toEqual(
				[]
			);
		},
		{ auto: true }
	]
});

const newTeam = () => `team-${randomUUID().slice(0, 8)}`;

async function signIn(page: Page, name: string, team: string): Promise<void> {
	await page.goto('/');
	await page.getByLabel('Your name').fill(name);
	await page.getByLabel('Team').fill(team);
	await page.getByRole('button', { name: 'Open the dashboard' }).click();
	await expect(page.getByRole('button', { name: 'Sign out' })).toBeVisible();
}

const incident = (page: Page, title: string) =>
	page.getByTestId('incident-list').getByText(title, { exact: true });

/** The boxes of the dashboard's regions, to compare before and after hydration. */
const REGIONS =
	'#dashboard header, #dashboard section, #dashboard form, #dashboard ul, #dashboard ol';

interface HydrationRecord {
	/** The server-rendered header element, taken before any script ran. */
	serverHeader: Element | null;
	before: string[];
	after: string[];
}

test.describe('the dashboard island', () => {
	test('hydrates the server-rendered dashboard in place: same nodes, nothing moves, no SvelteKit client', async ({
		page
	}) => {
		const scripts: string[] = [];
		page.on('request', (request) => {
			if (request.resourceType() == 'script') scripts.push(new URL(request.url()).pathname);
		});
		// Module scripts run once the document is parsed: after readyState becomes 'interactive' and
		// before DOMContentLoaded, so these two moments bracket the hydration.
		await page.addInitScript((regions) => {
			const boxes = () =>
				[...document.querySelectorAll(regions)].map((element) => {
					const { x, y, width, height } = element.getBoundingClientRect();
					return `${element.tagName}.${element.className} ${x},${y} ${width}x${height}`;
				});
			const record: HydrationRecord = { serverHeader: null, before: [], after: [] };
			Object.assign(window, { hydrationRecord: record });
			document.addEventListener('readystatechange', () => {
				if (document.readyState != 'interactive') return;
				record.serverHeader = document.querySelector('#dashboard header');
				record.before = boxes();
			});
			document.addEventListener('DOMContentLoaded', () => (record.after = boxes()));
		}, REGIONS);

		await signIn(page, 'Ada', newTeam());
		// Only JavaScript can say Live: the island ran and its socket connected.
		await expect(page.getByTestId('connection-badge')).toHaveText('Live', { timeout: 10_000 });

		const record = await page.evaluate(() => {
			const { serverHeader, before, after } = (
				window as unknown as { hydrationRecord: HydrationRecord }
			).hydrationRecord;
			return {
				sameHeader:
					serverHeader != null && serverHeader == document.querySelector('#dashboard header'),
				before,
				after,
				kitGlobals: Object.keys(window).filter((key) => key.startsWith('__sveltekit'))
			};
		});
		// A failed hydration would have emptied the element and mounted new nodes (and warned).
		expect(record.sameHeader).toBe(true);
		expect(record.before.length).toBeGreaterThan(5);
		expect(record.after).toEqual(record.before);

		// The island's module is the page's only script, content-hashed and cached for good.
		expect(scripts).toEqual([
			expect.stringMatching(/^\/_app\/immutable\/assets\/dashboard-island\.[\w-]+\.js$/)
		]);
		expect(scripts.some((path) => path.includes('/_app/immutable/entry/'))).toBe(false);
		expect(record.kitGlobals).toEqual([]);
		const island = await page.request.get(scripts[0]);
		expect(island.headers()['cache-control']).toContain('immutable');
	});

	test('hydrates with the props it was rendered with, even when they hold </script>', async ({
		page
	}) => {
		const hostile = '</script><script>document.title="injected"</script><!--';
		await signIn(page, 'Ada', newTeam());
		await expect(page.getByTestId('connection-badge')).toHaveText('Live', { timeout: 10_000 });
		await page.getByPlaceholder('What is wrong?').fill(hostile);
		await page.getByRole('button', { name: 'Open incident' }).click();
		await expect(incident(page, hostile)).toBeVisible();

		// Rendered by the server this time, with the title in the props' JSON.
		await page.reload();
		await expect(page.getByTestId('connection-badge')).toHaveText('Live', { timeout: 10_000 });
		await expect(incident(page, hostile)).toBeVisible();
		await expect(page).toHaveTitle(/^Incidents · team-/);
		await page.getByRole('button', { name: `Resolve ${hostile}` }).click();
		await expect(incident(page, hostile)).toBeHidden();
	});

	test('sends its incident forms through the socket: the page stays, a refusal shows inline', async ({
		page
	}) => {
		await signIn(page, 'Ada', newTeam());
		await expect(page.getByTestId('connection-badge')).toHaveText('Live', { timeout: 10_000 });
		const posts: string[] = [];
		page.on('request', (request) => {
			if (request.isNavigationRequest() || request.method() != 'GET') posts.push(request.url());
		});

		const title = page.getByPlaceholder('What is wrong?');
		await title.fill('Sent on the socket');
		await page.getByRole('button', { name: 'Open incident' }).click();
		await expect(incident(page, 'Sent on the socket')).toBeVisible();
		await expect(title).toHaveValue('');

		// Spaces pass the browser's `required`; the action's own rule refuses them, in the page.
		await title.fill('   ');
		await page.getByRole('button', { name: 'Open incident' }).click();
		await expect(page.getByText('A title of 1 to 120 characters.')).toBeVisible();
		await expect(title).toHaveValue('   ');

		await page.getByRole('button', { name: 'Resolve Sent on the socket' }).click();
		await expect(incident(page, 'Sent on the socket')).toBeHidden();
		await expect(page.getByTestId('incident-pending')).toHaveCount(0);
		expect(posts).toEqual([]);
		expect(new URL(page.url()).search).toBe('');

		// Sign out is a plain form: the server's redirect loads the sign-in page.
		await page.getByRole('button', { name: 'Sign out' }).click();
		await expect(page.getByRole('button', { name: 'Open the dashboard' })).toBeVisible();
	});
});

test.describe('the dashboard without JavaScript', () => {
	test.use({ javaScriptEnabled: false });

	test('signs in, opens, refuses, resolves and signs out with plain form posts', async ({
		page
	}) => {
		await signIn(page, 'Ada', newTeam());
		// Nothing ran: the server's first paint stays.
		await expect(page.getByTestId('connection-badge')).not.toHaveText('Live');

		await page.getByPlaceholder('What is wrong?').fill('Opened without JavaScript');
		await page.getByLabel('Severity').selectOption('critical');
		await page.getByRole('button', { name: 'Open incident' }).click();
		await expect(incident(page, 'Opened without JavaScript')).toBeVisible();
		await expect(page.getByTestId('incident-count')).toHaveText('1');

		// The refusal is a page answered 400, which Chromium logs.
		test.info().annotations.push({ type: 'expected-console', description: 'status of 400' });
		await page.getByPlaceholder('What is wrong?').fill('   ');
		await page.getByRole('button', { name: 'Open incident' }).click();
		await expect(page.getByText('A title of 1 to 120 characters.')).toBeVisible();

		await page.getByRole('button', { name: 'Resolve Opened without JavaScript' }).click();
		await expect(incident(page, 'Opened without JavaScript')).toBeHidden();
		await expect(page.getByTestId('incident-count')).toHaveText('0');

		await page.getByRole('button', { name: 'Sign out' }).click();
		await expect(page.getByRole('button', { name: 'Open the dashboard' })).toBeVisible();
		expect(await page.context().cookies()).toEqual([]);
	});
});
