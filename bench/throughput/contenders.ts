import type { BenchServer } from './servers/bench-server.js';
import { startRawWs } from './servers/raw-ws.js';
import { startRunesocketMemory, startRunesocketRedis } from './servers/runesocket.js';
import { startSocketIo } from './servers/socket-io.js';

/**
 * How a load client connects to and joins a room on a contender.
 *
 * @example
 * const protocol: ClientProtocol = 'runesocket'; // /ws, then room.join
 */
export type ClientProtocol = 'raw-ws' | 'socket.io' | 'runesocket';

/**
 * Which Redis of the bench a contender needs: none, the bench's redis-server, or the bench's
 * 3-master Redis Cluster.
 *
 * @example
 * const needs: RedisNeed = 'cluster'; // BENCH_REDIS_CLUSTER_URL
 */
export type RedisNeed = 'none' | 'redis-server' | 'cluster';

/**
 * Where a contender that uses Redis finds it: the bench's redis-server or cluster, and the prefix of keys and
 * channels that the processes of one contender in one scenario share (and nothing else does).
 *
 * @example
 * const shared: SharedRedis = { url: process.env.BENCH_REDIS_URL ?? '', prefix: 'bench:2:runesocket-redis:' };
 */
export interface SharedRedis {
	url: string;
	prefix: string;
}

/**
 * A server under test: its name in the tables, how to start it, how its clients speak, and whether
 * it needs one of the bench's Redis.
 *
 * @example
 * const contender: Contender = { name: 'ws', start: () => startRawWs({ corked: false }), protocol: 'raw-ws', redis: 'none' };
 */
export interface Contender {
	name: string;
	start(redis: SharedRedis | undefined): Promise<BenchServer>;
	protocol: ClientProtocol;
	redis: RedisNeed;
}

function needRedis(redis: SharedRedis | undefined): SharedRedis {
	if (!redis) throw new Error('This contender needs a Redis of the bench (BENCH_REDIS_URL)');
	return redis;
}

/**
 * Every contender. Scenarios pick theirs by name; `--only` narrows that down.
 *
 * @example
 * const contender = contenders.find((candidate) => candidate.name == 'socket.io');
 */
export const contenders: readonly Contender[] = [
	{
		name: 'ws',
		start: () => startRawWs({ corked: false }),
		protocol: 'raw-ws',
		redis: 'none'
	},
	{
		name: 'ws corked',
		start: () => startRawWs({ corked: true }),
		protocol: 'raw-ws',
		redis: 'none'
	},
	{ name: 'socket.io', start: () => startSocketIo(), protocol: 'socket.io', redis: 'none' },
	{
		name: 'socket.io redis',
		start: (redis) => startSocketIo(needRedis(redis)),
		protocol: 'socket.io',
		redis: 'redis-server'
	},
	{
		name: 'runesocket memory',
		start: startRunesocketMemory,
		protocol: 'runesocket',
		redis: 'none'
	},
	{
		name: 'runesocket redis',
		start: (redis) => startRunesocketRedis(needRedis(redis)),
		protocol: 'runesocket',
		redis: 'redis-server'
	},
	{
		name: 'runesocket redis cluster',
		start: (redis) => startRunesocketRedis(needRedis(redis)),
		protocol: 'runesocket',
		redis: 'cluster'
	}
];

/**
 * The contender of a name, or an error naming the known ones.
 *
 * @example
 * const { start } = contenderNamed('ws corked');
 */
export function contenderNamed(name: string): Contender {
	const found = contenders.find((contender) => contender.name == name);
	if (!found) {
		const known = contenders.map((contender) => contender.name).join(', ');
		throw new Error(`No contender "${name}" (known: ${known})`);
	}
	return found;
}
