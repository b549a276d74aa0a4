// The throughput suite of `npm run bench`: runesocket's server side by side with raw ws and
// Socket.IO, each server and its load clients in their own processes on 127.0.0.1, contenders
// interleaved per round, every delivery counted per client.
import { contenderNamed, type Contender } from './contenders.js';
import type { DeliveryCount } from './messages.js';
import { loadAverage } from './machine.js';
import { BenchRedisCluster } from './redis-cluster.js';
import { BenchRedis } from './redis-server.js';
import {
	clusterTable,
	scenarioTable,
	seriesTable,
	summaryTable,
	type RunResult,
	type ScenarioResults,
	type SeriesColumn
} from './report.js';
import { runScenario } from './run-scenario.js';
import { scenarios, SINGLE_PROCESS_CONTENDERS, type Series } from './scenarios.js';
import { packageVersion } from './servers/package-version.js';
import { measureWireBytes, wireBytesTable } from './wire-bytes.js';

const WIRE_BYTES_TABLE = 'wire bytes of one room delivery';
const WIRE_PAYLOAD_BYTES = 100;

/**
 * Options of `runThroughput`.
 *
 * @example
 * const options: ThroughputOptions = { rounds: 3, scale: 1, scenarios: ['100 rooms', 'wire'] };
 */
export interface ThroughputOptions {
	/** Interleaved rounds; the tables give medians. */
	rounds: number;
	/** Publishes per run × this. */
	scale: number;
	/** Contender names to run. Default all. */
	only?: readonly string[];
	/** Runs only the scenarios whose name contains one of these ("wire" picks the wire-bytes table). */
	scenarios?: readonly string[];
}

/** What went wrong in a run, in words (LOSS first), or '' when every client got everything once. */
function problemsOf(count: DeliveryCount): string {
	const { lost, duplicated, clientsWithGaps, closed, timedOut, firstGap, otherMessages, stray } =
		count;
	const others = Object.entries(otherMessages).map(([name, times]) => `${times}× ${name}`);
	const problems = [
		...(lost || duplicated
			? [`LOSS: ${lost} lost, ${duplicated} duplicated, in ${clientsWithGaps} clients`]
			: []),
		...(timedOut ? ['the run timed out before every client had everything'] : []),
		...(firstGap ? [firstGap] : []),
		...(closed ? [`${closed} clients closed`] : []),
		...(stray ? [`${stray} stray ticks (of an earlier run, or out of range)`] : []),
		...(others.length ? [`other messages: ${others.join(', ')}`] : [])
	];
	return problems.join('; ');
}

const RUNESOCKET_CONTENDERS = ['runesocket memory', 'runesocket redis', 'runesocket redis cluster'];

/**
 * The tables made of every scenario at once: the cluster beside a single Redis, and the ranges of
 * runesocket's ratios over all scenarios (what a summary of this run may quote, none left out).
 */
function printSummaries(measured: readonly ScenarioResults[]): void {
	const cluster = clusterTable(measured, 'runesocket redis cluster', 'runesocket redis', 'ws');
	if (cluster.length) {
		console.log('\n## Redis Cluster beside one redis-server (the scenarios above that ran both)\n');
		console.log(cluster.join('\n'));
	}
	const summary = summaryTable(measured, RUNESOCKET_CONTENDERS);
	if (summary.length > 2 && measured.length > 1) {
		console.log(`\n## Ranges over the ${measured.length} scenarios above (medians)\n`);
		console.log(summary.join('\n'));
	}
}

/**
 * Runs the throughput scenarios (and the wire-bytes table) and prints their Markdown tables. Resolves
 * false when a scenario failed or any delivery was lost or duplicated.
 *
 * @example
 * const ok = await runThroughput({ rounds: 3, scale: 1 });
 */
export async function runThroughput(options: ThroughputOptions): Promise<boolean> {
	const { rounds, scale } = options;
	const only = options.only?.map((name) => contenderNamed(name.trim()).name);
	const wanted = (name: string): boolean =>
		!options.scenarios || options.scenarios.some((part) => name.includes(part.trim()));
	const chosenScenarios = scenarios.filter((scenario) => wanted(scenario.name));
	const contendersOf = (names: readonly string[]): Contender[] =>
		names.filter((name) => !only || only.includes(name)).map(contenderNamed);
	const wireContenders = wanted(WIRE_BYTES_TABLE)
		? contendersOf([...SINGLE_PROCESS_CONTENDERS, 'socket.io redis'])
		: [];
	const needs = new Set(
		[...chosenScenarios.flatMap((s) => contendersOf(s.contenders)), ...wireContenders].map(
			(contender) => contender.redis
		)
	);
	const redis = needs.has('redis-server') ? await BenchRedis.start() : undefined;
	if (redis) process.env.BENCH_REDIS_URL = redis.url;
	let cluster: BenchRedisCluster | undefined;
	try {
		cluster = needs.has('cluster') ? await BenchRedisCluster.start() : undefined;
	} catch (error) {
		await redis?.stop();
		throw error;
	}
	if (cluster) process.env.BENCH_REDIS_CLUSTER_URL = cluster.url;

	console.log(
		`ws ${packageVersion('ws')}, socket.io ${packageVersion('socket.io')}, socket.io-client ${packageVersion('socket.io-client')}, @socket.io/redis-adapter ${packageVersion('@socket.io/redis-adapter')}, ioredis ${packageVersion('ioredis')}, redis-server ${BenchRedis.version()}${redis ? ` (started by the bench on ${redis.url}, --save '' --appendonly no)` : ''}${cluster ? `; a 3-master Redis Cluster started by the bench on ${cluster.url}` : ''}; ${rounds} interleaved rounds, medians`
	);

	let lossSeen = false;
	let failed = false;
	const series = new Map<Series, (SeriesColumn & { value: number })[]>();
	const measured: ScenarioResults[] = [];
	try {
		if (wireContenders.length) {
			const deliveries = [];
			for (const contender of wireContenders)
				deliveries.push(await measureWireBytes(contender, WIRE_PAYLOAD_BYTES));
			console.log(`\n## ${WIRE_BYTES_TABLE}, ~${WIRE_PAYLOAD_BYTES} B payload\n`);
			console.log(wireBytesTable(deliveries).join('\n'));
		}
		for (const scenario of chosenScenarios) {
			const chosen = contendersOf(scenario.contenders);
			if (!chosen.length) continue;
			const loadBefore = loadAverage();
			const started = Date.now();
			let results: Map<string, RunResult[]>;
			try {
				results = await runScenario(scenario, chosen, {
					rounds,
					scale,
					redis: { 'redis-server': redis, cluster }
				});
			} catch (error) {
				failed = true;
				console.log(`\n## ${scenario.name}\n\nFAILED: ${String(error)}`);
				continue;
			}
			console.log(
				`\n## ${scenario.name}, ~${scenario.payloadBytes.toLocaleString('en')} B payload (load ${loadBefore} → ${loadAverage()}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n`
			);
			const baselines = scenario.baselines.filter((name) => results.has(name));
			console.log(scenarioTable(results, baselines).join('\n'));
			measured.push({ name: scenario.name, baselines, results });
			if (scenario.note) console.log(`\n${scenario.note}`);
			for (const name of scenario.series ?? []) {
				const value = name == 'payload size' ? scenario.payloadBytes : scenario.clients;
				const label = `${value.toLocaleString('en')}${name == 'payload size' ? ' B' : ' clients'}`;
				series.set(name, [...(series.get(name) ?? []), { label, value, results }]);
			}
			for (const [name, runs] of results) {
				runs.forEach((run, round) => {
					const problems = problemsOf(run.count);
					if (problems) console.log(`\n${name}, round ${round + 1}: ${problems}`);
					if (run.count.lost || run.count.duplicated) lossSeen = true;
				});
			}
		}
		for (const [name, columns] of series) {
			if (columns.length < 2) continue;
			console.log(`\n## Cost by ${name} (1 room, 1 publish per turn)\n`);
			const ordered = [...columns].sort((a, b) => a.value - b.value);
			console.log(seriesTable(name, ordered).join('\n'));
		}
		printSummaries(measured);
	} finally {
		await Promise.all([redis?.stop(), cluster?.stop()]);
	}
	if (lossSeen) {
		console.log(
			'\nDeliveries were lost or duplicated (see LOSS above): these numbers are not valid.'
		);
	}
	return !lossSeen && !failed;
}
