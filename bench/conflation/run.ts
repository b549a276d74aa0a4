// Latest-value conflation (issue 21): a fan-out with one slow reader beside the same fan-out without
// it, and a replay after a long absence before and after conflation:
// `npx tsx bench/conflation/run.ts [--rounds N] [--parts fan-out,replay] [--rate R] [--seconds S]`
// (the fan-out's checks per second and its length: an unkeyed backlog must pass 1 MiB within the run
// for the server to close the slow reader). The server runs in its own process, the fast readers in
// another (the throughput suite's load clients), the slow or rejoining reader in a third, all on
// 127.0.0.1; runs are interleaved per round.
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from '../throughput/machine.js';
import { BenchRedis, exitOnSignals } from '../throughput/redis-server.js';
import { packageVersion } from '../throughput/servers/package-version.js';
import {
	frameBytesOf,
	runFanOut,
	WARM_UP_SECONDS,
	type FanOutPlan,
	type FanOutResult
} from './fan-out.js';
import { median } from '../throughput/stats.js';
import { fastReadersTable, replayTable, slowReaderTable } from './report.js';
import { awayPlanOf, replayContenders, runReplay, type ReplayPlan } from './replay.js';

/**
 * Options of `runConflationBench`.
 *
 * @example
 * const options: ConflationBenchOptions = { rounds: 3, parts: ['replay'] };
 */
export interface ConflationBenchOptions {
	/** Interleaved rounds; the tables give medians. */
	rounds: number;
	/** `fan-out`, `replay` or both (the default). */
	parts?: readonly string[];
	fanOut?: FanOutPlan;
	replay?: ReplayPlan;
}

const FAN_OUT: FanOutPlan = {
	clients: 500,
	perSecond: 250,
	seconds: 16,
	keys: 200,
	dataBytes: 250,
	slowShare: 0.01
};

const REPLAY: ReplayPlan = {
	keys: 200,
	keyedMessages: 20_000,
	unkeyedEvery: 101,
	dataBytes: 250,
	historySize: 25_000
};

const PARTS = ['fan-out', 'replay'];

function fastReadersNote(plan: FanOutPlan): string {
	const messages = plan.perSecond * plan.seconds;
	const deliveries = plan.clients * plan.perSecond;
	return `${plan.clients} fast readers (one process: the throughput suite's load clients) are in one room of runesocket on MemoryEngine, which publishes ${whole(messages)} checks in ${plan.seconds} s (${plan.perSecond}/s, paced every 5 ms: ${whole(deliveries)} deliveries/s to them), each about the next of ${plan.keys} monitors, data ~${plan.dataBytes} B (frame ~${frameBytesOf(plan)} B). "keyed": the monitor is the check's conflation key; "unkeyed": \`conflationKey: null\`, the path every message took before conflation. Latency runs from the publish (a µs timestamp in the data) to a fast reader's receipt; server CPU is the server process's \`process.cpuUsage\` from the first publish until every fast reader had every check, over the deliveries to fast readers. Each round starts one run later (a b c d, b c d a, …), after a ${WARM_UP_SECONDS} s warm-up run.`;
}

function slowReaderNote(plan: FanOutPlan, results: Map<string, FanOutResult[]>): string {
	const frame = frameBytesOf(plan);
	const fills = [...results.values()].flat().flatMap((run) => run.prefilled?.bytes ?? []);
	const filled = fills.length ? `${(median(fills) / 2 ** 20).toFixed(1)} MiB` : 'none ran';
	return `The slow reader is one client more, in a process of its own, on a real TCP socket, reading ${plan.slowShare * 100}% of a fast reader's byte rate (\`ws\`'s pause and resume in 50 ms slices, ${whole(frame * plan.perSecond * plan.slowShare)} B/s). "slow reader, keyed" reports its reads as runesocket's client does (its own \`readReports\`: \`4:<n>\`), so the server holds back what would be more than 500 ms (at least 512 frames) ahead of it. The others do not report, and before the run the server writes them 60 KB non-room messages until their socket refuses more (the kernel's buffers full, as after a while of reading slowly: ${filled} written, median); "after the fill" is what \`ws\` still held of the last one. The backlog is the reader's \`connection.bufferedBytes\` (the queue in the server and what \`ws\` holds), read in the server every 100 ms. Once the load stopped the reader reads freely: "converged" is the time until it held the newest check of every monitor (unkeyed: every check), its offsets only ever rising; the close code it saw is the one it read after what its socket held.`;
}

function printReplayNote(plan: ReplayPlan): void {
	const away = awayPlanOf(plan, 'room', true);
	const unkeyed = Math.floor(away.messages / plan.unkeyedEvery);
	console.log(
		`\nA client joins a room of ${plan.keys} monitors (one check each published), leaves with its position, and while it is away the server publishes ${whole(away.messages - unkeyed)} checks (${plan.keys} monitors in turn, data ~${plan.dataBytes} B) and ${whole(unkeyed)} unkeyed messages among them (one in ${plan.unkeyedEvery}); the room keeps ${whole(plan.historySize)} messages of history for 10 minutes. It then connects again and joins with its position: times and bytes (read off its TCP socket, frames included) count from its join, to the join's answer (sent once the history was read) and to when it held the newest check of every monitor and every unkeyed message. "Before": every message published with \`conflationKey: null\`, as before conflation; the route's default \`maxBufferedBytes\` (1 MiB) closes such a replay midway (the server decides 1013; the client sees 1013, or 1006 when the close frame was still queued behind what it had not read; the figures then run until the close), so the same replay also runs with the limit raised to 64 MiB, which the ratios are taken against. Server CPU is the server process's own from just before the rejoin until the client caught up. RedisEngine runs on a redis-server the bench starts (--save '' --appendonly no).`
	);
}

const whole = (value: number): string => Math.round(value).toLocaleString('en-US');

/**
 * Runs the fan-out and the replay parts in interleaved rounds and prints their tables as Markdown.
 * Resolves false if a run failed or a fast reader lost or got a delivery twice.
 *
 * @example
 * const ok = await runConflationBench({ rounds: 3 });
 */
export async function runConflationBench(options: ConflationBenchOptions): Promise<boolean> {
	const parts = options.parts ?? PARTS;
	for (const part of parts) {
		if (!PARTS.includes(part)) throw new TypeError(`No part "${part}" (known: ${PARTS})`);
	}
	let ok = true;
	const failed = (what: string, error: unknown): void => {
		ok = false;
		console.log(`FAILED: ${what}: ${String(error)}`);
	};
	console.log(
		`${describeMachine()}; ws ${packageVersion('ws')}, ioredis ${packageVersion('ioredis')}, redis-server ${BenchRedis.version()}; ${options.rounds} interleaved rounds, medians`
	);
	if (parts.includes('fan-out')) {
		const plan = options.fanOut ?? FAN_OUT;
		const loadBefore = loadAverage();
		const started = Date.now();
		const results = await runFanOut(plan, options.rounds, failed);
		const took = ((Date.now() - started) / 1000).toFixed(0);
		console.log(
			`\n## ${plan.clients} readers of one room and one slow reader, ${plan.perSecond} checks/s over ${plan.keys} monitors (load ${loadBefore} → ${loadAverage()}, ${took} s)\n`
		);
		console.log(`### The fast readers\n`);
		console.log(fastReadersTable(results).join('\n'));
		console.log(`\n${fastReadersNote(plan)}\n\n### The slow reader\n`);
		console.log(slowReaderTable(results, plan.seconds).join('\n'));
		console.log(`\n${slowReaderNote(plan, results)}`);
		for (const runs of results.values()) {
			if (runs.some((run) => run.count.lost || run.count.duplicated)) ok = false;
		}
	}
	if (parts.includes('replay')) {
		const plan = options.replay ?? REPLAY;
		const redis = await BenchRedis.start();
		process.env.BENCH_REDIS_URL = redis.url;
		const loadBefore = loadAverage();
		const started = Date.now();
		try {
			const prefix = `bench:conflation:${randomBytes(4).toString('hex')}:`;
			const results = await runReplay(plan, options.rounds, replayContenders, prefix, failed);
			const took = ((Date.now() - started) / 1000).toFixed(0);
			console.log(
				`\n## Replay after a long absence: ${whole(plan.keyedMessages)} checks of ${plan.keys} monitors missed (load ${loadBefore} → ${loadAverage()}, ${took} s)\n`
			);
			console.log(replayTable(results, replayContenders).join('\n'));
			printReplayNote(plan);
		} finally {
			await redis.stop();
		}
	}
	return ok;
}

if (import.meta.url == pathToFileURL(process.argv[1] ?? '').href) {
	const { values } = parseArgs({
		options: {
			rounds: { type: 'string', default: '3' },
			parts: { type: 'string' },
			rate: { type: 'string' },
			seconds: { type: 'string' }
		}
	});
	exitOnSignals();
	const rounds = Number(values.rounds);
	console.log(`# npx tsx bench/conflation/run.ts ${process.argv.slice(2).join(' ')}`.trimEnd());
	const fanOut: FanOutPlan = {
		...FAN_OUT,
		perSecond: values.rate ? Number(values.rate) : FAN_OUT.perSecond,
		seconds: values.seconds ? Number(values.seconds) : FAN_OUT.seconds
	};
	const ok = await runConflationBench({ rounds, parts: values.parts?.split(','), fanOut });
	if (!ok) process.exitCode = 1;
}
