// Counts what `npm test` ran: the typecheck and lint steps (one each) and every vitest and
// Playwright test, read from their JSON reports. A step that never ran counts as failed.
import { existsSync, readFileSync } from 'node:fs';

const [logPath, status] = process.argv.slice(2);
const log = readFileSync(logPath, 'utf8');
let passed = 0;
let failed = 0;

function count(ok) {
	if (ok) passed++;
	else failed++;
}

function readJson(path) {
	return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : undefined;
}

const vitest = readJson('test-results/vitest.json');
const playwright = readJson('test-results/playwright.json');

// `npm test` chains check && lint && vitest && playwright: vitest only runs once lint has passed.
count(/svelte-check found 0 errors and 0 warnings/.test(log));
count(vitest !== undefined);

if (vitest) {
	passed += vitest.numPassedTests;
	failed += vitest.numFailedTests;
	// A suite that failed to load has no failed tests but fails the run.
	if (!vitest.success && vitest.numFailedTests == 0) failed++;
} else count(false);

if (playwright) {
	passed += playwright.stats.expected + playwright.stats.flaky;
	failed += playwright.stats.unexpected;
} else count(false);

if (status !== '0' && failed === 0) failed = 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(status === '0' && failed === 0 ? 0 : 1);
