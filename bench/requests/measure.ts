import { Child } from '../child.js';
import type { BenchRedis } from '../throughput/redis-server.js';
import { KEPT_KEYS_PER_CLIENT } from './clients.js';
import type { Contender } from './contenders.js';
import type { ClientCommand, ClientReport, ServerCommand, ServerReport } from './messages.js';

/**
 * The sizes of one round of one contender: clients, requests in flight per client, requests timed
 * and requests of the warm-up before them (each a multiple of `clients`).
 *
 * @example
 * const plan: RoundPlan = { clients: 50, inFlight: 4, requests: 20_000, warmUp: 2_000 };
 */
export interface RoundPlan {
	clients: number;
	inFlight: number;
	requests: number;
	warmUp: number;
}

/**
 * One contender's figures from one round.
 *
 * @example
 * const { perSecond, cpuPerRequest } = await measureContender(contender, plan, { redis, prefix });
 */
export interface RoundResult {
	version: string;
	/** Requests answered per second over the timed batch, from the first sent to the last answered. */
	perSecond: number;
	/** µs of the server process's CPU time (user + system) per timed request. */
	cpuPerRequest: number;
	/** µs of redis-server's CPU time per timed request (10 ms resolution); undefined without Redis. */
	redisPerRequest?: number;
}

const START_TIMEOUT_MS = 30_000;
const BATCH_TIMEOUT_MS = 120_000;
/** A pause after the warm-up: the answers it kept are in the store before the timed batch. */
const SETTLE_MS = 200;

/**
 * Runs one round for one contender, in a fresh server process and a fresh client process on
 * 127.0.0.1: `clients` clients open, a warm-up batch (with `repeat`, the one that answers and keeps
 * the keys sent again later), then the timed batch, with the server's CPU time (and redis-server's)
 * counted around it. Throws when the server's handler did not run once per timed request (none for
 * a repeat of a kept key), or a request failed.
 *
 * @example
 * const result = await measureContender(requestContenders[0], plan, { prefix: 'bench:requests:1:' });
 */
export async function measureContender(
	contender: Contender,
	plan: RoundPlan,
	{ redis, prefix }: { redis?: BenchRedis; prefix: string }
): Promise<RoundResult> {
	const onRedis = contender.server == 'runesocket redis';
	const profileDir = process.env.BENCH_CPU_PROFILE_DIR;
	const server = new Child<ServerCommand, ServerReport>(
		new URL('./server-process.ts', import.meta.url),
		[contender.server, prefix],
		profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []
	);
	const clients = new Child<ClientCommand, ClientReport>(
		new URL('./client-process.ts', import.meta.url),
		[]
	);
	try {
		const [{ port, version }] = await Promise.all([
			server.next('listening', START_TIMEOUT_MS),
			clients.next('ready', START_TIMEOUT_MS)
		]);
		clients.send({ type: 'open', mode: contender.mode, port, clients: plan.clients });
		await clients.next('opened', START_TIMEOUT_MS);
		const perClient = (count: number): number => Math.ceil(count / plan.clients);
		const run = async (count: number, keyPrefix: string): Promise<number> => {
			clients.send({
				type: 'run',
				batch: { perClient: perClient(count), inFlight: plan.inFlight, keyPrefix }
			});
			return (await clients.next('done', BATCH_TIMEOUT_MS)).ms;
		};
		const repeat = contender.mode == 'repeat';
		const keys = `${prefix.replace(/:$/, '')}.${contender.mode}`;
		await run(Math.max(plan.warmUp, KEPT_KEYS_PER_CLIENT * plan.clients), `${keys}.w`);
		await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
		server.send({ type: 'mark' });
		await server.next('marked', START_TIMEOUT_MS);
		const redisBefore = onRedis ? redis?.cpuMicros() : undefined;
		const ms = await run(plan.requests, repeat ? `${keys}.w` : `${keys}.t`);
		const redisAfter = onRedis ? redis?.cpuMicros() : undefined;
		server.send({ type: 'measure' });
		const { cpuMicros, handled } = await server.next('measured', START_TIMEOUT_MS);
		const timed = perClient(plan.requests) * plan.clients;
		const expected = repeat ? 0 : timed;
		if (handled != expected) {
			throw new Error(`The handler ran ${handled} times for ${timed} requests, not ${expected}`);
		}
		return {
			version,
			perSecond: (timed / ms) * 1000,
			cpuPerRequest: cpuMicros / timed,
			redisPerRequest:
				redisBefore === undefined || redisAfter === undefined
					? undefined
					: (redisAfter - redisBefore) / timed
		};
	} finally {
		await clients.stop({ type: 'stop' });
		await server.stop({ type: 'stop' });
	}
}
