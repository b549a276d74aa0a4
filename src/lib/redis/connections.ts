import { Redis, type RedisOptions } from 'ioredis';

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
 * Whether `value` is an ioredis client rather than its options (duck-typed: one install may hold
 * two ioredis copies).
 *
 * @example
 * ```ts
 * isRedisClient(new Redis()); // true
 * isRedisClient({ host: 'redis' }); // false
 * ```
 */
export function isRedisClient(value: unknown): value is Redis {
	return (
		value instanceof Redis ||
		(typeof value == 'object' &&
			value !== null &&
			typeof (value as Redis).duplicate == 'function' &&
			typeof (value as Redis).evalsha == 'function')
	);
}

/**
 * The two connections of an engine, and whether it owns the command one (and must quit it).
 *
 * @example
 * ```ts
 * const { commands, subscriber, ownsCommands }: EngineConnections = createConnections(url);
 * ```
 */
export interface EngineConnections {
	readonly commands: Redis;
	readonly subscriber: Redis;
	readonly ownsCommands: boolean;
}

/**
 * The command connection from a URL, options, or a client of the app's (used as it is: the caller
 * must leave it open), and whether the caller owns it.
 *
 * @example
 * ```ts
 * const { commands, ownsCommands } = createCommandConnection('redis://127.0.0.1:6379');
 * ```
 */
export function createCommandConnection(
	redis: string | RedisOptions | Redis
): Omit<EngineConnections, 'subscriber'> {
	if (isRedisClient(redis)) return { commands: redis, ownsCommands: false };
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
 *
 * @example
 * ```ts
 * const { commands, subscriber } = createConnections('redis://127.0.0.1:6379');
 * ```
 */
export function createConnections(redis: string | RedisOptions | Redis): EngineConnections {
	const { commands, ownsCommands } = createCommandConnection(redis);
	const subscriber = isRedisClient(redis)
		? redis.duplicate(SUBSCRIBER_SETTINGS)
		: typeof redis == 'string'
			? new Redis(redis, SUBSCRIBER_SETTINGS)
			: new Redis({ ...redis, ...SUBSCRIBER_SETTINGS });
	return { commands, subscriber, ownsCommands };
}

/**
 * Connects `redis` unless it is connected, and resolves once it is ready; rejects when the attempt
 * fails (ioredis then keeps retrying unless the connection is ended).
 *
 * @example
 * ```ts
 * await connect(commands);
 * ```
 */
export function connect(redis: Redis): Promise<void> {
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
 *
 * @example
 * ```ts
 * await quit(subscriber, 5_000);
 * ```
 */
export async function quit(redis: Redis, ms: number): Promise<void> {
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
