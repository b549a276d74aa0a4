// One fast-check seed for the whole vitest run, so that a test retried after a counterexample meets
// the same cases again instead of passing on fresh ones. FC_SEED picks it, to reproduce a run.
import type { TestProject } from 'vitest/node';

/** The seed every property of this run starts from. */
function runSeed(chosen: string | undefined): number {
	if (chosen === undefined || chosen === '') return Math.floor(Math.random() * 2 ** 31);
	const seed = Number(chosen);
	if (!Number.isInteger(seed)) throw new Error(`FC_SEED must be an integer, not ${chosen}`);
	return seed;
}

export default function setup(project: TestProject): void {
	const seed = runSeed(process.env.FC_SEED);
	project.provide('propertySeed', seed);
	console.log(
		`fast-check seed ${seed} for every property of this run (FC_SEED=${seed} repeats it)`
	);
}
