// Counts what `npm test` ran: the typecheck and lint steps (one each) and every vitest and
// Playwright test, read from their JSON reports. A step that never ran counts as failed.
//
// A test that failed and then passed on its retry failed the run: a retry only tells a flaky test
// from one that fails every time, it never hides either. The one exception is a test named in
// .ci/quarantine.json, `[{ "test": "<its full name, as printed here>", "reason": "…" }]`: its pass
// on a retry is excused (counted neither passed nor failed) and printed with the reason, every run,
// until someone fixes it and takes it off the list. A quarantined test that fails its retry too fails.
//
//   node .ci/summarize.mjs <npm test's log> <npm test's exit status>
//
// Prints a line naming the tests that passed only on a retry, one per quarantined test excused, and,
// last, `N passed, N failed`; exits 1 unless npm test succeeded and nothing failed.
import { existsSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * @typedef {object} VitestAssertion
 * @property {string[]} ancestorTitles
 * @property {string} title
 * @property {string} status `passed`, `failed`, `skipped`, …
 * @property {string[]} failureMessages Also kept from the attempts before a passing retry.
 *
 * @typedef {object} VitestReport vitest's `json` reporter output (the parts read here).
 * @property {boolean} success
 * @property {number} numFailedTests
 * @property {{ name: string, assertionResults: VitestAssertion[] }[]} testResults
 *
 * @typedef {object} PlaywrightSuite
 * @property {string} title
 * @property {PlaywrightSuite[]} [suites]
 * @property {{ title: string, file: string, tests: { projectName: string, status: string }[] }[]} [specs]
 *
 * @typedef {object} PlaywrightReport Playwright's `json` reporter output (the parts read here).
 * @property {{ expected: number, unexpected: number, flaky: number }} stats
 * @property {PlaywrightSuite[]} suites
 *
 * @typedef {object} Quarantined A test whose pass on a retry does not fail the run, and why.
 * @property {string} test Its full name: `file > describe > title` (vitest),
 *   `[project] file > describe > title` (Playwright).
 * @property {string} reason
 *
 * @typedef {object} Summary
 * @property {number} passed
 * @property {number} failed Includes each test in `retried`.
 * @property {string[]} retried Tests that failed once and passed on the retry, not quarantined.
 * @property {Quarantined[]} excused Quarantined tests that failed once and passed on the retry.
 * @property {boolean} ok Whether CI passes: npm test succeeded and nothing failed.
 */

/**
 * What the run amounts to.
 *
 * @param {object} run
 * @param {string} run.log npm test's output.
 * @param {string} run.status npm test's exit status.
 * @param {VitestReport} [run.vitest] Missing when vitest never ran.
 * @param {PlaywrightReport} [run.playwright] Missing when Playwright never ran.
 * @param {Quarantined[]} [run.quarantine]
 * @param {string} [run.root] Test file paths are shown relative to it.
 * @returns {Summary}
 */
export function summarize({
	log,
	status,
	vitest,
	playwright,
	quarantine = [],
	root = process.cwd()
}) {
	let passed = 0;
	let failed = 0;
	/** @type {string[]} */
	const retried = [];
	/** @type {Quarantined[]} */
	const excused = [];
	/** @param {boolean} ok */
	const count = (ok) => (ok ? passed++ : failed++);
	/** @param {string} name A test that failed once, then passed. */
	const passedOnRetry = (name) => {
		const entry = quarantine.find((candidate) => candidate.test == name);
		if (entry) excused.push(entry);
		else {
			retried.push(name);
			failed++;
		}
	};

	// `npm test` chains check && lint && vitest && playwright: vitest only runs once lint has passed.
	count(/svelte-check found 0 errors and 0 warnings/.test(log));
	count(vitest !== undefined);

	if (vitest) {
		for (const file of vitest.testResults) {
			for (const test of file.assertionResults) {
				// vitest keeps the errors of earlier attempts on a test that passed on a retry.
				if (test.status == 'passed' && test.failureMessages.length) {
					passedOnRetry(
						[relative(root, file.name), ...test.ancestorTitles, test.title].join(' > ')
					);
				} else if (test.status == 'passed') passed++;
				else if (test.status == 'failed') failed++;
			}
		}
		// A suite that failed to load has no failed tests but fails the run.
		if (!vitest.success && vitest.numFailedTests == 0) failed++;
	} else count(false);

	if (playwright) {
		passed += playwright.stats.expected;
		failed += playwright.stats.unexpected;
		// The top-level suites are the files, which every spec names already.
		for (const name of playwright.suites.flatMap((file) => flakyPlaywrightTests(file, []))) {
			passedOnRetry(name);
		}
	} else count(false);

	if (status !== '0' && failed === 0) failed = 1;
	return { passed, failed, retried, excused, ok: status === '0' && failed === 0 };
}

/**
 * The Playwright tests of `suite` that passed only on a retry, as `[project] file > describe > title`.
 *
 * @param {PlaywrightSuite} suite
 * @param {string[]} titles The titles of the describe blocks it is in, and its own (none for a file).
 * @returns {string[]}
 */
function flakyPlaywrightTests(suite, titles) {
	const own = (suite.specs ?? []).flatMap((spec) =>
		spec.tests
			.filter((test) => test.status == 'flaky')
			.map((test) => `[${test.projectName}] ${[spec.file, ...titles, spec.title].join(' > ')}`)
	);
	const nested = (suite.suites ?? []).flatMap((child) =>
		flakyPlaywrightTests(child, [...titles, child.title])
	);
	return [...own, ...nested];
}

/**
 * The summary's lines: the tests that passed only on a retry, each quarantined one with its reason,
 * then `N passed, N failed`.
 *
 * @param {Summary} summary
 * @returns {string[]}
 */
export function summaryLines({ passed, failed, retried, excused }) {
	return [
		...(retried.length
			? [`${retried.length} failed once and passed on a retry: ${retried.join(', ')}`]
			: []),
		...excused.map(({ test, reason }) => `quarantined, failed once: ${test} (${reason})`),
		`${passed} passed, ${failed} failed`
	];
}

/**
 * The quarantine list, checked: every entry names a test and says why it is there.
 *
 * @param {unknown} entries The parsed .ci/quarantine.json.
 * @returns {Quarantined[]}
 */
export function quarantineList(entries) {
	const valid = (/** @type {unknown} */ entry) =>
		typeof entry == 'object' &&
		entry !== null &&
		'test' in entry &&
		'reason' in entry &&
		typeof entry.test == 'string' &&
		typeof entry.reason == 'string' &&
		entry.test != '' &&
		entry.reason != '';
	if (!Array.isArray(entries) || !entries.every(valid)) {
		throw new Error('.ci/quarantine.json: a list of { "test": "<full name>", "reason": "…" }');
	}
	return entries;
}

/**
 * What made each vitest test that passed on a retry fail its first attempt, a few lines each: the
 * log of a CI run is often all that is left of it, and a flaky test is fixed from its message.
 *
 * @param {VitestReport | undefined} vitest
 * @param {string} [root]
 * @returns {string[]}
 */
export function firstFailures(vitest, root = process.cwd()) {
	const lines = [];
	for (const file of vitest?.testResults ?? []) {
		for (const test of file.assertionResults) {
			if (test.status != 'passed' || !test.failureMessages.length) continue;
			const name = [relative(root, file.name), ...test.ancestorTitles, test.title].join(' > ');
			const message = test.failureMessages[0].split('\n').slice(0, 6).join('\n  ');
			lines.push(`first attempt of ${name} failed with:\n  ${message}`);
		}
	}
	return lines;
}

/** @param {string} path */
function readJson(path) {
	return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

if (process.argv[1] && import.meta.url == pathToFileURL(process.argv[1]).href) {
	const [logPath, status] = process.argv.slice(2);
	const vitest = readJson('test-results/vitest.json');
	const summary = summarize({
		log: readFileSync(logPath, 'utf8'),
		status,
		vitest,
		playwright: readJson('test-results/playwright.json'),
		quarantine: quarantineList(readJson(fileURLToPath(new URL('quarantine.json', import.meta.url))))
	});
	for (const line of [...firstFailures(vitest), ...summaryLines(summary)]) console.log(line);
	process.exit(summary.ok ? 0 : 1);
}
