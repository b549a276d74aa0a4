// Every property of this vitest run starts from the run's seed (property-seed.global.ts), and says
// how many cases it ran from which seed, passed or failed.
import fc from 'fast-check';
import { inject } from 'vitest';

declare module 'vitest' {
	export interface ProvidedContext {
		propertySeed: number;
	}
}

fc.configureGlobal({
	seed: inject('propertySeed'),
	reporter(details) {
		const outcome = details.failed ? 'failed after' : 'passed';
		// Skipped cases include those a time limit (skipAllAfterTimeLimit) cut: a pass that ran
		// fewer cases than asked for shows here.
		const skipped = details.numSkips ? `, ${details.numSkips} skipped` : '';
		const interrupted = details.interrupted ? ', interrupted by its time limit' : '';
		console.log(
			`fast-check: ${outcome} ${details.numRuns} cases${skipped} from seed ${details.seed}${interrupted}`
		);
		if (details.failed) {
			throw new Error(fc.defaultReportMessage(details), { cause: details.errorInstance });
		}
	}
});
