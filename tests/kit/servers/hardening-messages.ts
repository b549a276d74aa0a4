/**
 * What the hardening server (tests/kit/servers/hardening-server.ts) and the hardening suite agree on:
 * its routes, the tokens its `verify` understands, the rooms its `authorizeJoin` treats specially,
 * and its message definitions. No vitest import here: the fixture runs in a plain Node process.
 */
import { z } from 'zod';
import { ClientMessage } from '../../../src/lib/index.js';

/** The fixture's socket routes. */
export const HardeningRoute = {
	/** First-message auth (`verify` below), default limits. */
	auth: '/ws',
	/** No authentication, default limits; its `onMessage` answers requests and its `onError` throws. */
	open: '/open',
	/** No authentication and a rate limit high enough to send thousands of joins at once. */
	roomy: '/roomy',
	/** Upgrade-time `authenticate`, steered by the `auth` query parameter (`UpgradeAuth`). */
	upgradeAuth: '/upgrade-auth'
} as const;

/**
 * Tokens the fixture's first-message `verify` understands. `good` may carry flags after a colon
 * (`good:on-connect-throws,on-close-throws`) that make that connection's own callbacks fail.
 */
export const Token = {
	good: 'good',
	throws: 'throw',
	rejects: 'reject',
	hangs: 'hang',
	/** A refusal whose reason is 301 UTF-8 bytes of three-byte characters: must be cut to ≤ 123. */
	longReason: 'long-reason',
	/** A refusal with the app's own close code 4100. */
	customCode: 'custom-code',
	/**
	 * `expiring:<ttl ms>:<user>`: user `<user>` (its `userId`), an answer that expires `<ttl>` ms
	 * after it is given; the route asks for a new token at half of that (`expiringToken`).
	 */
	expiring: 'expiring'
} as const;

/** A token the fixture accepts for `user` for `ttlMs` ms from when it is verified. */
export function expiringToken(ttlMs: number, user: string): string {
	return `${Token.expiring}:${ttlMs}:${user}`;
}

/** Flags a `good:` token may carry. */
export const ConnectionFlag = {
	connectedDataThrows: 'connected-data-throws',
	onConnectThrows: 'on-connect-throws',
	onConnectRejects: 'on-connect-rejects',
	onCloseThrows: 'on-close-throws'
} as const;

/** The refusal reason of `Token.longReason`: cutting it at byte 123 naively splits a character. */
export const LONG_REASON = 'x' + '€'.repeat(100);

/** Values of the `auth` query parameter of `HardeningRoute.upgradeAuth`. */
export const UpgradeAuth = {
	good: 'good',
	throws: 'throw',
	rejects: 'reject',
	hangs: 'hang',
	/** A refusal with a long reason and status 429. */
	refuses: 'refuse'
} as const;

/** Room prefixes the fixture's `authorizeJoin` treats specially; any other room is allowed at once. */
export const RoomPrefix = {
	forbidden: 'forbidden:',
	throws: 'throws:',
	rejects: 'rejects:',
	/** Allowed after a timer: a join that overtakes a later leave would show here. */
	slow: 'slow:'
} as const;

/** The room the well-behaved client joins and the fixture's feed publishes to. */
export const FEED_ROOM = 'feed';

/** The fixture's feed: `{ n }` numbered from 1. */
export const FeedItem = ClientMessage.define<{ n: number }>('feed.item');

/** What the fixture's bulk publisher sends (to fill a slow reader's buffer). */
export const BulkItem = ClientMessage.define<{ n: number; filler: string }>('bulk.item');

/** Answers a request with its data, as the schema passed it on (polluted keys must be gone by then). */
export const Echo = ClientMessage.define('echo', z.unknown());

/** A schema that throws while validating: its transform parses the string it gets as JSON. */
export const Boom = ClientMessage.define(
	'boom',
	z.string().transform((text): unknown => JSON.parse(text))
);

/** A schema with an async refinement (validated after a timer). */
export const SlowCheck = ClientMessage.define(
	'slow-check',
	z.object({ n: z.number() }).refine(async ({ n }) => {
		await new Promise((resolve) => setTimeout(resolve, 1));
		return n >= 0;
	}, 'n must not be negative')
);

/** A handler that throws synchronously. */
export const Explode = ClientMessage.define<unknown>('explode');

/** A handler that rejects. */
export const Reject = ClientMessage.define<unknown>('reject');

/** A handler that never settles. */
export const Hang = ClientMessage.define<unknown>('hang');

/** Answers `{ ok: true }`: the suite's sentinel, proving the connection is still served. */
export const Probe = ClientMessage.define<unknown>('probe');

/** Names `HardeningRoute.open`'s `onMessage` makes throw or reject. */
export const OnMessageFailure = {
	throws: 'on-message.throw',
	rejects: 'on-message.reject'
} as const;

/** The error codes the server may answer with (PROTOCOL.md). */
export const ERROR_CODES: readonly string[] = [
	'malformed',
	'unknown_message',
	'invalid_data',
	'rate_limited',
	'forbidden',
	'internal_error',
	'no_reply',
	'too_many_rooms'
];

/**
 * Close codes the fixture's server may end a connection with: PROTOCOL.md's table, 1002 (RFC 6455's
 * protocol error, which `ws` sends for frames that break the framing rules) and the fixture's own
 * refusal code 4100.
 */
export const DOCUMENTED_CLOSE_CODES: readonly number[] = [
	1000, 1001, 1002, 1007, 1008, 1009, 1011, 1013, 4001, 4002, 4003, 4100
];
