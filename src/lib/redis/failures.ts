import { errorFrom, withDeadline } from '../engine/errors.js';
import type { RedisConnection } from './connections.js';

/** What ioredis says of a command that failed because its connection was lost or not writable. */
const CONNECTION_LOST =
	/Stream isn't writeable|Connection is closed|max retries per request|connection close|ECONNRESET|ECONNREFUSED|EPIPE/i;

/**
 * The error of a command that failed with `error`: "Redis is unavailable" when it failed because
 * `redis` (the connection it ran on) was lost, else Redis' own message.
 */
export function commandFailure(what: string, error: unknown, redis?: RedisConnection): Error {
	const { message } = errorFrom(error);
	const lost = redis && (redis.status != 'ready' || CONNECTION_LOST.test(message));
	const reason = lost ? `Redis is unavailable (connection lost: ${message})` : message;
	return new Error(`runesocket/redis: cannot ${what}: ${reason}`, { cause: error });
}

/**
 * Throws "Redis is unavailable" unless `redis` is ready; `notStarted` says why when it never
 * connected.
 */
export function throwUnlessReady(redis: RedisConnection, what: string, notStarted: string): void {
	if (redis.status == 'ready') return;
	const state = redis.status == 'wait' ? notStarted : `connection ${redis.status}`;
	throw new Error(`runesocket/redis: cannot ${what}: Redis is unavailable (${state})`);
}

/**
 * Runs a command on `redis` bounded by `timeout` ms; whatever it fails with becomes a
 * `commandFailure` saying it cannot `what`.
 */
export async function commandWithin<T>(
	redis: RedisConnection,
	what: string,
	timeout: number,
	run: () => Promise<T>
): Promise<T> {
	try {
		return await withDeadline(run(), timeout, 'Redis');
	} catch (error) {
		throw commandFailure(what, error, redis);
	}
}

/**
 * What Redis answers when an ACL does not allow a channel (7.0: "…access one of the channels…",
 * 7.2: "…access the 'x' channel"); a user denied the command itself ("…run the 'subscribe'
 * command") is refused for every room alike, which is not about a channel.
 */
const CHANNEL_REFUSED = /^NOPERM\b.*\bchannel/i;

/**
 * Whether `error` is Redis refusing a channel (an ACL): that room cannot be subscribed however
 * often it is tried, unlike a lost connection or a node that moved.
 */
export function isChannelRefusal(error: unknown): boolean {
	return CHANNEL_REFUSED.test(errorFrom(error).message);
}
