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
		// Skipped cases are those fc.pre rejected (fast-check drew others in their place); a property
		// cut short by its time limit says so here.
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
