// Idle memory per authenticated connection and connect + auth + join rate, for raw ws, Socket.IO
// and runesocket side by side: `npx tsx bench/connections/run.ts [--rounds N] [--only a,b]`.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from '../throughput/machine.js';
import { connectionContenderNamed, connectionContenders, type Contender } from './contenders.js';
import { measureContender, type RoundPlan } from './measure-contender.js';
import { connectRateTable, memoryTable, type ResultsByContender } from './report.js';

/**
 * Options of `runConnectionBenches`.
 *
 * @example
 * const options: ConnectionBenchOptions = { rounds: 3, only: ['ws', 'runesocket memory'] };
 */
export interface ConnectionBenchOptions {
	/** Interleaved rounds (every contender once per round); the tables give medians. */
	rounds: number;
	/** Names of the contenders to run. Default all. */
	only?: readonly string[];
	/** The sizes of a round. Default 2,000 idle connections, 1,000 timed, 50 at once, 100 rooms. */
	plan?: RoundPlan;
}

const DEFAULT_PLAN: RoundPlan = {
	idleConnections: 2_000,
	timedConnections: 1_000,
	concurrency: 50,
	rooms: 100
};

/**
 * Measures every contender in interleaved rounds, each in a fresh server process and a fresh client
 * process on 127.0.0.1, and prints the memory and connect-rate tables as Markdown. Resolves false if
 * any round failed (its figures are left out, and the failure is printed).
 *
 * @example
 * const ok = await runConnectionBenches({ rounds: 3 });
 * if (!ok) process.exitCode = 1;
 */
export async function runConnectionBenches(options: ConnectionBenchOptions): Promise<boolean> {
	const plan = options.plan ?? DEFAULT_PLAN;
	const chosen: readonly Contender[] = options.only
		? options.only.map(connectionContenderNamed)
		: connectionContenders;
	const results: ResultsByContender = new Map(chosen.map((contender) => [contender.name, []]));
	const versions = new Map<string, string>();
	const loadBefore = loadAverage();
	const started = Date.now();
	let ok = true;
	for (let round = 1; round <= options.rounds; round++) {
		for (const contender of chosen) {
			try {
				const result = await measureContender(contender, plan);
				versions.set(contender.name, result.version);
				results.get(contender.name)?.push(result);
			} catch (error) {
				ok = false;
				console.log(`FAILED: ${contender.name}, round ${round}: ${String(error)}`);
			}
		}
	}
	const seconds = ((Date.now() - started) / 1000).toFixed(0);
	console.log(`\n${describeMachine()}`);
	console.log(
		`${[...versions].map(([name, version]) => `${name}: ${version}`).join('; ')}; ${options.rounds} interleaved rounds, medians; load ${loadBefore} → ${loadAverage()}, ${seconds} s`
	);
	const rooms = `${plan.rooms} rooms of ${plan.idleConnections / plan.rooms}`;
	console.log(
		`\n## Idle memory per authenticated connection in a room (${plan.idleConnections.toLocaleString('en-US')} connections, ${rooms}, after gc())\n`
	);
	console.log(memoryTable(results).join('\n'));
	console.log(
		`\n## Connect + auth + join per second (${plan.timedConnections.toLocaleString('en-US')} clients, ${plan.concurrency} at once)\n`
	);
	console.log(connectRateTable(results).join('\n'));
	return ok;
}

if (import.meta.url == pathToFileURL(process.argv[1] ?? '').href) {
	const { values } = parseArgs({
		options: { rounds: { type: 'string', default: '3' }, only: { type: 'string' } }
	});
	const rounds = Number(values.rounds);
	console.log(
		`# npx tsx bench/connections/run.ts --rounds ${rounds}${values.only ? ` --only ${values.only}` : ''}`
	);
	const ok = await runConnectionBenches({ rounds, only: values.only?.split(',') });
	if (!ok) process.exitCode = 1;
}
