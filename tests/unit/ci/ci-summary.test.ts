import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { summarize, summaryLines } from '../../../.ci/summarize.mjs';

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

const FLAKY = [
	'tests/unit/reconnect.test.ts > reconnect > passes on its second try',
	'[dashboard] dashboard.test.ts > incidents > resolve shows everywhere'
];

describe('the CI summary', () => {
	it('names the tests that passed only on a retry and counts them neither passed nor failed', async () => {
		const summary = summarize({
			log: CHECKED,
			status: '1',
			root: '/repo',
			...(await retriedReports())
		});
		// Passed: the check, the lint step, one vitest and one Playwright test; failed: one of each.
		expect(summary).toEqual({ passed: 4, failed: 2, flaky: FLAKY, ok: false });
		expect(summaryLines(summary)).toEqual([
			`2 flaky (passed only on retry): ${FLAKY.join(', ')}`,
			'4 passed, 2 failed'
		]);
	});

	it('lets a run whose only trouble was flaky tests pass, and still names them', async () => {
		const reports = withoutFailures(await retriedReports());
		const summary = summarize({ log: CHECKED, status: '0', root: '/repo', ...reports });
		expect(summary).toEqual({ passed: 4, failed: 0, flaky: FLAKY, ok: true });
		expect(summaryLines(summary).at(-1)).toBe('4 passed, 0 failed');
	});

	it('says 0 flaky when no test needed a retry', async () => {
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
		expect(summaryLines(summary)).toEqual(['0 flaky (passed only on retry)', '6 passed, 0 failed']);
	});

	it('counts a step that never ran as failed', () => {
		const summary = summarize({ log: 'svelte-check found 3 errors', status: '1' });
		// The check failed; lint, vitest and Playwright never ran.
		expect(summaryLines(summary)).toEqual(['0 flaky (passed only on retry)', '0 passed, 4 failed']);
		expect(summary.ok).toBe(false);
	});
});

describe('.ci/summarize.mjs as .ci/run calls it', () => {
	let directory: string | undefined;

	afterEach(async () => {
		if (directory) await rm(directory, { recursive: true, force: true });
		directory = undefined;
	});

	it('reads test-results/ and prints the flaky line, then `N passed, N failed` last; exit 0', async () => {
		directory = await mkdtemp(join(tmpdir(), 'ci-summary-'));
		const { vitest, playwright } = withoutFailures(await retriedReports());
		await mkdir(join(directory, 'test-results'));
		await writeFile(join(directory, 'test-results/vitest.json'), JSON.stringify(vitest));
		await writeFile(join(directory, 'test-results/playwright.json'), JSON.stringify(playwright));
		await writeFile(join(directory, 'test-results.log'), CHECKED);
		const { stdout } = await promisify(execFile)(
			process.execPath,
			[join(ROOT, '.ci/summarize.mjs'), 'test-results.log', '0'],
			{ cwd: directory }
		);
		const lines = stdout.trimEnd().split('\n');
		expect(lines.at(-2)).toMatch(/^2 flaky \(passed only on retry\): .*resolve shows everywhere$/);
		expect(lines.at(-1)).toBe('4 passed, 0 failed');
	});

	it('exits 1 when npm test failed', async () => {
		directory = await mkdtemp(join(tmpdir(), 'ci-summary-'));
		await writeFile(join(directory, 'test-results.log'), CHECKED);
		const run = promisify(execFile)(
			process.execPath,
			[join(ROOT, '.ci/summarize.mjs'), 'test-results.log', '1'],
			{ cwd: directory }
		);
		await expect(run).rejects.toMatchObject({
			code: 1,
			stdout: expect.stringMatching(/1 passed, 3 failed\n$/)
		});
	});
});
