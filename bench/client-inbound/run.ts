// The client's inbound path: what reading room deliveries costs a client process, runesocket's
// SocketClient (with and without a zod schema) beside bare `ws` + `JSON.parse` + a `switch`.
// Run: `npx tsx bench/client-inbound/run.ts [--rounds N] [--only ws,client,zod]`.
//
// The clients are runesocket's client entry bundled by esbuild, as an application ships it.
// A runesocket server (its own child process) publishes bursts of room deliveries; every contender
// is a client in this process, joined to a room of its own, so each burst reaches one contender.
// Measured: this process's CPU time from the first delivery handled to the last (process.cpuUsage,
// so ws's frame parsing, GC and everything else the process did count too), per delivery. Rounds
// interleave the contenders (their order rotates each round) after one warm-up round; the tables
// give medians, and the median of each round's own ratio to the floor. Every delivery is counted by sequence number: a lost, duplicated or reordered one
// is printed and makes the run fail.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Child } from '../child.js';
import { median } from '../throughput/stats.js';
import { describeMachine, loadAverage } from '../throughput/machine.js';
import type { BurstResult } from './burst-counter.js';
import { importBundledClient } from './bundled-client.js';
import { createContenders, type InboundContender } from './contenders.js';
import { tickData, type PayloadSize, type ServerCommand, type ServerReport } from './messages.js';

/**
 * Options of `runClientInbound`.
 *
 * @example
 * const options: ClientInboundOptions = { rounds: 5, only: ['ws', 'client'] };
 */
export interface ClientInboundOptions {
	/** Measured rounds, after one warm-up round. */
	rounds: number;
	/** Keys of the contenders to run (`ws`, `client`, `zod`); all by default. */
	only?: readonly string[];
}

/** Deliveries per burst: enough for tens of milliseconds of CPU per burst. */
const BURST: Record<PayloadSize, number> = { small: 5_000, large: 1_500 };
const SIZES: readonly PayloadSize[] = ['small', 'large'];
const BURST_TIMEOUT_MS = 60_000;

type Results = Map<string, BurstResult[]>;

async function burst(
	server: Child<ServerCommand, ServerReport>,
	contender: InboundContender,
	room: string,
	size: PayloadSize
): Promise<BurstResult> {
	const counted = contender.expect(size, BURST[size], BURST_TIMEOUT_MS);
	server.send({ type: 'burst', room, size, count: BURST[size] });
	await server.next('published', BURST_TIMEOUT_MS);
	return counted;
}

/** µs of CPU per delivery: the span covers every delivery after the first. */
const perDelivery = (result: BurstResult): number => result.cpuMicros / (result.received - 1);

function table(size: PayloadSize, contenders: InboundContender[], results: Results): string[] {
	const bytes = JSON.stringify(tickData(size, 0)).length;
	const floorCosts = (results.get(`${contenders[0].key}:${size}`) ?? []).map(perDelivery);
	const floor = median(floorCosts);
	const lines = [
		`${BURST[size].toLocaleString('en')} deliveries of ${bytes.toLocaleString('en')} B data per burst`,
		'',
		`| contender | CPU µs / delivery | min–max | ${contenders[0].key} ÷ this | same, per round | burst wall ms | lost / dup / reordered |`,
		'|---|---|---|---|---|---|---|'
	];
	for (const contender of contenders) {
		const runs = results.get(`${contender.key}:${size}`) ?? [];
		const costs = runs.map(perDelivery);
		const cost = median(costs);
		// Each round's own ratio: the machine's load drifts less within a round than across the run.
		const paired = median(costs.map((each, round) => floorCosts[round] / each));
		const sum = (pick: (result: BurstResult) => number) =>
			runs.reduce((total, result) => total + pick(result), 0);
		lines.push(
			`| ${contender.name} | ${cost.toFixed(2)} | ${Math.min(...costs).toFixed(2)}–${Math.max(...costs).toFixed(2)} | ${(floor / cost).toFixed(2)}× | ${paired.toFixed(2)}× | ${median(runs.map((result) => result.wallMs)).toFixed(1)} | ${sum((r) => r.lost)} / ${sum((r) => r.duplicated)} / ${sum((r) => r.outOfOrder)} |`
		);
	}
	return lines;
}

/**
 * Runs the inbound benchmark and prints its tables (Markdown); true when every delivery arrived
 * once and in order.
 *
 * @example
 * const ok = await runClientInbound({ rounds: 5 });
 */
export async function runClientInbound(options: ClientInboundOptions): Promise<boolean> {
	const contenders = createContenders(await importBundledClient()).filter(
		(contender) => !options.only || options.only.includes(contender.key)
	);
	const server = new Child<ServerCommand, ServerReport>(
		new URL('./server-process.ts', import.meta.url),
		[]
	);
	const results: Results = new Map();
	const loadBefore = loadAverage();
	try {
		const { port } = await server.next('listening', 30_000);
		const rooms = contenders.map((contender) => `inbound:${contender.key}`);
		await Promise.all(
			contenders.map((contender, i) => contender.start(`ws://127.0.0.1:${port}/ws`, rooms[i]))
		);
		for (let round = -1; round < options.rounds; round++) {
			for (const size of SIZES) {
				for (let turn = 0; turn < contenders.length; turn++) {
					const index = (turn + Math.max(round, 0)) % contenders.length;
					const result = await burst(server, contenders[index], rooms[index], size);
					// Round -1 warms the JIT up and is not counted.
					if (round < 0) continue;
					const key = `${contenders[index].key}:${size}`;
					results.set(key, [...(results.get(key) ?? []), result]);
				}
			}
		}
	} finally {
		for (const contender of contenders) contender.close();
		await server.stop({ type: 'exit' });
	}
	console.log(`Client inbound path: ${describeMachine()}`);
	console.log(
		`${options.rounds} rounds, medians; 1-minute load ${loadBefore} → ${loadAverage()}\n`
	);
	for (const size of SIZES) console.log([...table(size, contenders, results), ''].join('\n'));
	const all = [...results.values()].flat();
	return all.every((result) => !result.lost && !result.duplicated && !result.outOfOrder);
}

if (process.argv[1] == fileURLToPath(import.meta.url)) {
	const { values } = parseArgs({
		options: { rounds: { type: 'string', default: '7' }, only: { type: 'string' } }
	});
	const only = values.only?.split(',').map((key) => key.trim());
	const ok = await runClientInbound({ rounds: Number(values.rounds), only });
	if (!ok) console.log('LOSS: some deliveries were lost, duplicated or reordered');
	process.exitCode = ok ? 0 : 1;
}
