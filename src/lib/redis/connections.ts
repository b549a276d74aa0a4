import { Cluster, Redis, type ClusterNode, type ClusterOptions, type RedisOptions } from 'ioredis';

/**
 * Settings the engine imposes on the connections it creates:
 * - `lazyConnect`: nothing connects before `start()`;
 * - `enableOfflineQueue: false`: a command while Redis is down fails at once instead of waiting;
 * - `maxRetriesPerRequest: 0` and `autoResendUnfulfilledCommands: false`: a command in flight when
 *   the connection drops fails at once and is never sent again (a publish must not run twice);
 * - `autoResubscribe: false` (subscriber): the engine resubscribes itself, from its own list of
 *   rooms, and only then reports itself healthy and asks the server to resync.
 */
const ENGINE_SETTINGS = {
	lazyConnect: true,
	enableOfflineQueue: false,
	maxRetriesPerRequest: 0,
	autoResendUnfulfilledCommands: false
} satisfies RedisOptions;

const SUBSCRIBER_SETTINGS = { ...ENGINE_SETTINGS, autoResubscribe: false } satisfies RedisOptions;

/**
 * The same for a cluster: the client fails a command at once while the cluster is down; each node
 * connection never sends a command twice. `enableOfflineQueue` stays on for the node connections:
 * they connect lazily, on their first command.
 */
function clusterSettings(options: ClusterOptions | undefined, sharded: boolean): ClusterOptions {
	return {
		...options,
		lazyConnect: true,
		enableOfflineQueue: false,
		shardedSubscribers: sharded,
		redisOptions: {
			...options?.redisOptions,
			maxRetriesPerRequest: 0,
			autoResendUnfulfilledCommands: false
		}
	};
}

/**
 * A Redis Cluster to connect to: its startup nodes (any of its nodes; the client discovers the
 * others) and ioredis' cluster options.
 *
 * @example
 * ```ts
 * const target: RedisClusterConfig = {
 * 	cluster: [{ host: 'redis-1', port: 6379 }, { host: 'redis-2', port: 6379 }],
 * 	options: { redisOptions: { password: process.env.REDIS_PASSWORD } }
 * };
 * ```
 */
export interface RedisClusterConfig {
	readonly cluster: readonly ClusterNode[];
	readonly options?: ClusterOptions;
}

/**
 * Where an engine or publisher finds Redis: a URL (`redis://…`, or `redis-cluster://host:port,…`
 * for a cluster), ioredis options, an ioredis client or `Cluster` of the app's, or the startup
 * nodes of a Redis Cluster.
 *
 * @example
 * ```ts
 * const single: RedisTarget = 'redis://127.0.0.1:6379';
 * const cluster: RedisTarget = { cluster: [{ host: '127.0.0.1', port: 7000 }] };
 * ```
 */
export type RedisTarget = string | RedisOptions | Redis | Cluster | RedisClusterConfig;

/** A connection of the engine: one Redis, or a Redis Cluster. */
export type RedisConnection = Redis | Cluster;

/** Whether `redis` is a cluster client (duck-typed, as `isRedisClient`). */
export function isCluster(redis: unknown): redis is Cluster {
	return (
		redis instanceof Cluster ||
		(isRedisClient(redis) && (redis as { isCluster?: unknown }).isCluster === true)
	);
}

function isClusterConfig(redis: RedisTarget): redis is RedisClusterConfig {
	return typeof redis == 'object' && Array.isArray((redis as RedisClusterConfig).cluster);
}

const CLUSTER_SCHEME = /^redis-cluster:\/\//i;

/**
 * The cluster a `redis-cluster://[user:password@]host:port,host:port` URL names (its startup
 * nodes, and the credentials every node connection uses), so a deployment configured by one
 * environment variable (`REDIS_URL`) can point at a Redis Cluster.
 */
export function clusterFromUrl(url: string): RedisClusterConfig {
	const rest = url.replace(CLUSTER_SCHEME, '').split('/')[0];
	const at = rest.lastIndexOf('@');
	const credentials = new URL(`redis://${at >= 0 ? rest.slice(0, at + 1) : ''}localhost`);
	const cluster = rest
		.slice(at + 1)
		.split(',')
		.filter(Boolean)
		.map((address) => {
			const node = new URL(`redis://${address}`);
			return { host: node.hostname, port: Number(node.port || 6379) };
		});
	if (!cluster.length)
		throw new TypeError(`No cluster node in ${url.replace(/\/\/[^@]*@/, '//…@')}`);
	const redisOptions: RedisOptions = {};
	if (credentials.username) redisOptions.username = decodeURIComponent(credentials.username);
	if (credentials.password) redisOptions.password = decodeURIComponent(credentials.password);
	return { cluster, options: { redisOptions } };
}

/**
 * Whether `value` is an ioredis client rather than its options (duck-typed: one install may have
 * two ioredis copies).
 */
export function isRedisClient(value: unknown): value is Redis | Cluster {
	return (
		value instanceof Redis ||
		(typeof value == 'object' &&
			value !== null &&
			typeof (value as Redis).duplicate == 'function' &&
			typeof (value as Redis).evalsha == 'function')
	);
}

/** The two connections of an engine, and whether it owns the command one (and must quit it). */
export interface EngineConnections {
	readonly commands: RedisConnection;
	readonly subscriber: RedisConnection;
	readonly ownsCommands: boolean;
}

/**
 * The command connection from a URL, options, or a client of the app's (used as it is: the caller
 * must leave it open), and whether the caller owns it.
 */
export function createCommandConnection(redis: RedisTarget): Omit<EngineConnections, 'subscriber'> {
	if (isRedisClient(redis)) return { commands: redis, ownsCommands: false };
	if (typeof redis == 'string' && CLUSTER_SCHEME.test(redis)) redis = clusterFromUrl(redis);
	if (isClusterConfig(redis)) {
		const commands = new Cluster([...redis.cluster], clusterSettings(redis.options, false));
		return { commands, ownsCommands: true };
	}
	const commands =
		typeof redis == 'string'
			? new Redis(redis, ENGINE_SETTINGS)
			: new Redis({ ...redis, ...ENGINE_SETTINGS });
	return { commands, ownsCommands: true };
}

/**
 * Creates the command and subscriber connections from a URL, options, or a client of the app's: the
 * app's client is used for commands as it is (and left open by `close()`); the subscriber is always
 * the engine's own.
 */
export function createConnections(redis: RedisTarget): EngineConnections {
	const { commands, ownsCommands } = createCommandConnection(redis);
	return { commands, subscriber: createSubscriber(redis, commands), ownsCommands };
}

/** The engine's own subscriber: a duplicate of the command connection, set up to subscribe. */
function createSubscriber(redis: RedisTarget, commands: RedisConnection): RedisConnection {
	if (isCluster(commands)) {
		// Sharded pub/sub: each node carries only the messages of its own slots.
		return commands.duplicate([], clusterSettings(commands.options, true));
	}
	if (isRedisClient(redis)) return (redis as Redis).duplicate(SUBSCRIBER_SETTINGS);
	return typeof redis == 'string'
		? new Redis(redis, SUBSCRIBER_SETTINGS)
		: new Redis({ ...(redis as RedisOptions), ...SUBSCRIBER_SETTINGS });
}

/** ioredis' own record of a cluster client's sharded subscriptions: slot → channels. */
function shardChannelLists(redis: RedisConnection): Map<number, string[]> | undefined {
	const group = (redis as { shardedSubscribers?: { channels?: unknown } }).shardedSubscribers;
	return group?.channels instanceof Map ? (group.channels as Map<number, string[]>) : undefined;
}

/**
 * Makes ioredis' record of a cluster client's sharded subscriptions list each of `wanted` once, and
 * nothing else. ioredis 6 appends a command's channels to that record at every SSUBSCRIBE (a
 * channel subscribed again is listed again), keeps a channel Redis refused, and subscribes the whole
 * record again, slot by slot, whenever a node changes: since the engine subscribes every room again
 * after an outage, the record would grow by the number of rooms at each one, and a refused channel
 * would fail the resubscription of its slot's other rooms. A no-op on a client without that record
 * (a single Redis, or another ioredis).
 */
export function keepShardChannels(redis: RedisConnection, wanted: ReadonlySet<string>): void {
	const lists = shardChannelLists(redis);
	if (!lists) return;
	for (const [slot, channels] of lists) {
		const kept = [...new Set(channels)].filter((channel) => wanted.has(channel));
		if (kept.length) lists.set(slot, kept);
		else lists.delete(slot);
	}
}

/**
 * Connects `redis` unless it is connected, and resolves once it is ready; rejects when the attempt
 * fails (ioredis then keeps retrying unless the connection is ended).
 */
export function connect(redis: RedisConnection): Promise<void> {
	if (redis.status == 'ready') return Promise.resolve();
	if (redis.status == 'wait' || redis.status == 'end') return redis.connect();
	return new Promise<void>((resolve, reject) => {
		const ready = () => {
			redis.off('end', ended);
			resolve();
		};
		const ended = () => {
			redis.off('ready', ready);
			reject(new Error('Connection is closed.'));
		};
		redis.once('ready', ready);
		redis.once('end', ended);
	});
}

/**
 * Closes `redis` politely (QUIT), or at once when it is not connected or does not answer in time.
 */
export async function quit(redis: RedisConnection, ms: number): Promise<void> {
	if (redis.status == 'end') return;
	if (redis.status != 'ready') return redis.disconnect();
	let timer: ReturnType<typeof setTimeout> | undefined;
	const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)));
	await Promise.race([
		redis.quit().then(
			() => undefined,
			() => undefined
		),
		late
	]);
	clearTimeout(timer);
	const status: string = redis.status; // QUIT may have ended it meanwhile
	if (status != 'end') redis.disconnect();
}
