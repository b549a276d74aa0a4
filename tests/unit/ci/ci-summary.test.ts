import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { firstFailures, quarantineList, summarize, summaryLines } from '../../../.ci/summarize.mjs';

// .ci/summarize.mjs over JSON reports that vitest 4 (`--retry 1`) and Playwright 1.65
// (`retries: 1`) wrote for a file with a test that passes only on its second try, one that passes,
// one that always fails and a skipped one (trimmed to what the reports hold about them).

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const FIXTURES = join(ROOT, 'tests/kit/ci-summary');
const CHECKED = 'svelte-check found 0 errors and 0 warnings\n';

type Reports = Required<Pick<Parameters<typeof summarize>[0], 'vitest' | 'playwright'>>;

async function retriedReports(): Promise<Reports> {
	const read = async (name: string) => JSON.parse(await readFile(join(FIXTURES, name), 'utf8'));
	return {
		vitest: await read('vitest-retried.json'),
		playwright: await read('playwright-retried.json')
	};
}

/** The same reports with the test that always fails taken out, as a run where it was fixed. */
function withoutFailures({ vitest, playwright }: Reports): Reports {
	return {
		vitest: {
			...vitest,
			success: true,
			numFailedTests: 0,
			testResults: vitest.testResults.map((file) => ({
				...file,
				assertionResults: file.assertionResults.filter((test) => test.status != 'failed')
			}))
		},
		playwright: {
			...playwright,
			stats: { ...playwright.stats, unexpected: 0 },
			suites: playwright.suites.map((file) => ({
				...file,
				specs: file.specs?.filter((spec) => spec.tests.every((test) => test.status != 'unexpected'))
			}))
		}
	};
}

const RETRIED = [
	'tests/unit/reconnect.test.ts > reconnect > passes on its second try',
	'[dashboard] dashboard.test.ts > incidents > resolve shows everywhere'
];

describe('the CI summary', () => {
	it('fails the run for a test that passed only on its retry, and names it', async () => {
		const reports = withoutFailures(await retriedReports());
		const summary = summarize({ log: CHECKED, status: '0', root: '/repo', ...reports });
		// Passed: the check, the lint step, one vitest and one Playwright test; failed: the two retried.
		expect(summary).toEqual({ passed: 4, failed: 2, retried: RETRIED, excused: [], ok: false });
		expect(summaryLines(summary)).toEqual([
			`2 failed once and passed on a retry: ${RETRIED.join(', ')}`,
			'4 passed, 2 failed'
		]);
	});

	it('prints what made a test that passed on its retry fail first', async () => {
		const { vitest } = await retriedReports();
		expect(firstFailures(vitest, '/repo')).toEqual([
			`first attempt of ${RETRIED[0]} failed with:\n  AssertionError: expected 1 to be 2 // Object.is equality`
		]);
	});

	it('lets a quarantined test pass on its retry, and prints it with its reason', async () => {
		const reports = withoutFailures(await retriedReports());
		const quarantine = RETRIED.map((test, index) => ({ test, reason: `reason ${index}` }));
		const summary = summarize({ log: CHECKED, status: '0', root: '/repo', quarantine, ...reports });
		expect(summary).toEqual({ passed: 4, failed: 0, retried: [], excused: quarantine, ok: true });
		expect(summaryLines(summary)).toEqual([
			`quarantined, failed once: ${RETRIED[0]} (reason 0)`,
			`quarantined, failed once: ${RETRIED[1]} (reason 1)`,
			'4 passed, 0 failed'
		]);
	});

	it('fails the run for a test that failed every try, quarantined or not', async () => {
		const quarantine = [
			{ test: 'tests/unit/reconnect.test.ts > reconnect > fails every time', reason: 'flaky' },
			{ test: '[dashboard] dashboard.test.ts > fails every time', reason: 'flaky' }
		];
		const summary = summarize({
			log: CHECKED,
			status: '1',
			root: '/repo',
			quarantine,
			...(await retriedReports())
		});
		// The two retried tests fail too; the two that failed every try fail whatever the list says.
		expect(summary).toMatchObject({
			passed: 4,
			failed: 4,
			retried: RETRIED,
			excused: [],
			ok: false
		});
		expect(summaryLines(summary).at(-1)).toBe('4 passed, 4 failed');
	});

	it('prints only the count when no test needed a retry', async () => {
		const { vitest, playwright } = withoutFailures(await retriedReports());
		const steady: Reports = {
			vitest: {
				...vitest,
				testResults: vitest.testResults.map((file) => ({
					...file,
					assertionResults: file.assertionResults.map((test) => ({ ...test, failureMessages: [] }))
				}))
			},
			playwright: {
				...playwright,
				stats: { ...playwright.stats, expected: playwright.stats.expected + 1, flaky: 0 },
				suites: JSON.parse(JSON.stringify(playwright.suites).replaceAll('"flaky"', '"expected"'))
			}
		};
		const summary = summarize({ log: CHECKED, status: '0', root: '/repo', ...steady });
		expect(summaryLines(summary)).toEqual(['6 passed, 0 failed']);
		expect(summary.ok).toBe(true);
	});

	it('counts a step that never ran as failed', () => {
		const summary = summarize({ log: 'svelte-check found 3 errors', status: '1' });
		// The check failed; lint, vitest and Playwright never ran.
		expect(summaryLines(summary)).toEqual(['0 passed, 4 failed']);
		expect(summary.ok).toBe(false);
	});
});

describe('the quarantine list', () => {
	it('is a list of tests, each with its reason', () => {
		const entries = [{ test: 'a.test.ts > b', reason: 'why' }];
		expect(quarantineList(entries)).toEqual(entries);
		expect(() => quarantineList([{ test: 'a.test.ts > b' }])).toThrow(/reason/);
		expect(() => quarantineList([{ test: 'a.test.ts > b', reason: '' }])).toThrow(/reason/);
		expect(() => quarantineList({})).toThrow(/reason/);
	});

	it('in .ci/ is valid', async () => {
		const entries = JSON.parse(await readFile(join(ROOT, '.ci/quarantine.json'), 'utf8'));
		expect(() => quarantineList(entries)).not.toThrow();
	});
});

describe('.ci/summarize.mjs as .ci/run calls it', () => {
	let directory: string | undefined;

	afterEach(async () => {
		if (directory) await rm(directory, { recursive: true, force: true });
		directory = undefined;
	});

	/** Runs the script in a directory holding `reports` as .ci/run leaves them. */
	async function runScript(reports: Partial<Reports>, status: string) {
		directory = await mkdtemp(join(tmpdir(), 'ci-summary-'));
		await mkdir(join(directory, 'test-results'));
		for (const [tool, report] of Object.entries(reports)) {
			await writeFile(join(directory, `test-results/${tool}.json`), JSON.stringify(report));
		}
		await writeFile(join(directory, 'test-results.log'), CHECKED);
		return promisify(execFile)(
			process.execPath,
			[join(ROOT, '.ci/summarize.mjs'), 'test-results.log', status],
			{ cwd: directory }
		);
	}

	it('reads test-results/ and prints `N passed, N failed` last; exit 0', async () => {
		const { vitest, playwright } = withoutFailures(await retriedReports());
		const clean: Reports = {
			vitest: {
				...vitest,
				testResults: vitest.testResults.map((file) => ({
					...file,
					assertionResults: file.assertionResults.filter((test) => !test.failureMessages.length)
				}))
			},
			playwright: { ...playwright, stats: { ...playwright.stats, flaky: 0 }, suites: [] }
		};
		const { stdout } = await runScript(clean, '0');
		// The check, the lint step, one vitest and one Playwright test.
		expect(stdout).toBe('4 passed, 0 failed\n');
	});

	it('exits 1 for a test that passed only on its retry, naming it', async () => {
		const run = runScript(withoutFailures(await retriedReports()), '0');
		await expect(run).rejects.toMatchObject({
			code: 1,
			stdout: expect.stringMatching(/resolve shows everywhere\n4 passed, 2 failed\n$/)
		});
	});

	it('exits 1 when npm test failed', async () => {
		const run = runScript({}, '1');
		await expect(run).rejects.toMatchObject({
			code: 1,
			stdout: expect.stringMatching(/1 passed, 3 failed\n$/)
		});
	});
});
