// Request round trips, exactly-once keys included, beside raw ws and Socket.IO's acknowledgements:
// `npx tsx bench/requests/run.ts [--rounds N] [--only a,b]` (names or parts of names, e.g.
// `--only ws,repeat`). Each contender's server runs in its own process and its clients in another,
// on 127.0.0.1; contenders are interleaved per round. BENCH_CPU_PROFILE_DIR=<dir> writes a
// .cpuprofile of every server process there (its CPU figures then include the profiler's cost).
import { randomBytes } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from '../throughput/machine.js';
import { BenchRedis, exitOnSignals } from '../throughput/redis-server.js';
import { ROUTE_DEFAULTS } from '../../src/lib/server/options.js';
import { packageVersion } from '../throughput/servers/package-version.js';
import { KEPT_KEYS_PER_CLIENT } from './clients.js';
import { requestContenderNamed, requestContenders, type Contender } from './contenders.js';
import { measureContender, type RoundPlan } from './measure.js';
import { requestsTable, type ResultsByContender } from './report.js';

/**
 * Options of `runRequestBench`.
 *
 * @example
 * const options: RequestBenchOptions = { rounds: 3, only: ['ws', 'keyed (redis)'] };
 */
export interface RequestBenchOptions {
	/** Interleaved rounds (every contender once per round); the table gives medians. */
	rounds: number;
	/** Names (or parts of names) of the contenders to run. Default all. */
	only?: readonly string[];
	/** The sizes of a round. Default 50 clients, 4 requests in flight each, 50,000 timed. */
	plan?: RoundPlan;
}

const DEFAULT_PLAN: RoundPlan = { clients: 50, inFlight: 4, requests: 50_000, warmUp: 5_000 };

/**
 * Measures every contender in interleaved rounds, each in a fresh server process and a fresh client
 * process, runesocket on Redis against a redis-server the bench starts for itself (keys under a
 * prefix of their own per round, all gone with it), and prints the table as Markdown. Resolves false
 * if any round failed (its figures are left out, and the failure is printed).
 *
 * @example
 * const ok = await runRequestBench({ rounds: 3 });
 * if (!ok) process.exitCode = 1;
 */
export async function runRequestBench(options: RequestBenchOptions): Promise<boolean> {
	const plan = options.plan ?? DEFAULT_PLAN;
	const chosen: readonly Contender[] = options.only
		? options.only.map((name) => requestContenderNamed(name.trim()))
		: requestContenders;
	const redis = chosen.some((contender) => contender.server == 'runesocket redis')
		? await BenchRedis.start()
		: undefined;
	if (redis) process.env.BENCH_REDIS_URL = redis.url;
	const run = randomBytes(4).toString('hex');
	const results: ResultsByContender = new Map(chosen.map((contender) => [contender.name, []]));
	const versions = new Map<string, string>();
	const loadBefore = loadAverage();
	const started = Date.now();
	let ok = true;
	try {
		for (let round = 1; round <= options.rounds; round++) {
			for (const contender of chosen) {
				try {
					const prefix = `bench:requests:${run}:${round}:`;
					const result = await measureContender(contender, plan, { redis, prefix });
					versions.set(contender.server, result.version);
					results.get(contender.name)?.push(result);
				} catch (error) {
					ok = false;
					console.log(`FAILED: ${contender.name}, round ${round}: ${String(error)}`);
				}
			}
		}
	} finally {
		await redis?.stop();
	}
	const seconds = ((Date.now() - started) / 1000).toFixed(0);
	console.log(`\n${describeMachine()}`);
	const redisNote = redis
		? `; redis-server ${BenchRedis.version()} started by the bench (--save '' --appendonly no), ioredis ${packageVersion('ioredis')}`
		: '';
	console.log(
		`${[...versions].map(([name, version]) => `${name}: ${version}`).join('; ')}; socket.io-client ${packageVersion('socket.io-client')}${redisNote}; ${options.rounds} interleaved rounds, medians; load ${loadBefore} → ${loadAverage()}, ${seconds} s`
	);
	const requests = plan.requests.toLocaleString('en-US');
	console.log(
		`\n## Request round trips (${requests} per contender per round, ${plan.clients} clients with ${plan.inFlight} in flight each, after ${plan.warmUp.toLocaleString('en-US')} to warm up)\n`
	);
	console.log(requestsTable(results).join('\n'));
	console.log(
		`\nThe server's CPU time is its process's own (\`process.cpuUsage\`) over the timed requests; redis-server's is read from /proc (10 ms ticks). A keyed request has a fresh key each; a repeat of a kept key sends again one of ${KEPT_KEYS_PER_CLIENT} keys per client answered in the warm-up, so its answer comes from Redis and no handler runs (checked). runesocket's route authenticates the upgrade (a user per client, whose keys the engine keeps) and has its rate limit off; its clients write the frames runesocket's client sends.`
	);
	const perUser = Math.ceil(plan.warmUp / plan.clients) + Math.ceil(plan.requests / plan.clients);
	const kept = ROUTE_DEFAULTS.requestKeysPerScope;
	console.log(
		`\nEach client is one user, whose scope keeps the route's default ${kept.toLocaleString('en-US')} answers: a fresh-key run sends ${perUser.toLocaleString('en-US')} keys per user${perUser > kept ? `, so its last ${(perUser - kept).toLocaleString('en-US')} per user each also forget the oldest answer (as a busy user's would)` : ''}.`
	);
	return ok;
}

if (import.meta.url == pathToFileURL(process.argv[1] ?? '').href) {
	const { values } = parseArgs({
		options: { rounds: { type: 'string', default: '3' }, only: { type: 'string' } }
	});
	exitOnSignals();
	const rounds = Number(values.rounds);
	console.log(
		`# npx tsx bench/requests/run.ts --rounds ${rounds}${values.only ? ` --only ${values.only}` : ''}`
	);
	const ok = await runRequestBench({ rounds, only: values.only?.split(',') });
	if (!ok) process.exitCode = 1;
}
