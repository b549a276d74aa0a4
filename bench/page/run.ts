// The `page` suite of `npm run bench`: one production build of the demo, then Lighthouse on it
// (lighthouse.ts) and the dashboard under load in Chromium (fps.ts). Issue 12's measured targets.
// Alone: `npx tsx bench/page/run.ts [--ref <commit>] [--runs N]`.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { buildApp } from './app.js';
import { measureFps } from './fps.js';
import { measureLighthouse } from './lighthouse.js';

/** Messages a second into the page, each rate for `LOAD_SECONDS`: issue 12's two figures. */
const RATES = [2_000, 10_000];
const LOAD_SECONDS = 10;
/**
 * Then the highest rate with Chromium's CPU slowed this many times, as on a slow phone: where the
 * page cannot keep up, it must say so and stay connected.
 */
const CPU_SLOWDOWN = 6;

/**
 * Builds the working tree (or commit `ref`) once and runs both page benchmarks on it, printing
 * Markdown. Resolves false when something could not be measured; a missed target is a figure.
 *
 * @example
 * await runPageBench({ runs: 3 });
 */
export async function runPageBench({
	runs,
	ref
}: {
	runs: number;
	ref?: string;
}): Promise<boolean> {
	const app = buildApp({ ref });
	try {
		console.log('## Lighthouse\n');
		await measureLighthouse(app, { runs });
		console.log('\n## Under load\n');
		await measureFps(app, { rates: RATES, seconds: LOAD_SECONDS, throttle: CPU_SLOWDOWN });
		return true;
	} catch (error) {
		console.error(error);
		return false;
	} finally {
		app.remove();
	}
}

if (import.meta.url == pathToFileURL(process.argv[1] ?? '').href) {
	const { values } = parseArgs({
		options: { ref: { type: 'string' }, runs: { type: 'string', default: '3' } }
	});
	process.exitCode = (await runPageBench({ runs: Number(values.runs), ref: values.ref })) ? 0 : 1;
}
