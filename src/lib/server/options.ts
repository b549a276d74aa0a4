import type { IncomingMessage } from 'node:http';
import { isRecord } from '../protocol/envelope.js';
import type { Connection } from './connection.js';
import type { Reply } from './session/reply.js';
import type { Engine, PresenceMember } from '../engine/engine.js';
import type { OriginPolicy } from './upgrade/origin.js';
import type { RateLimit } from './session/rate-limiter.js';

/**
 * The answer of an authentication check: the user data the connection carries from now on, or a
 * refusal. At upgrade, `code` is the HTTP status (default 401); after a first-message token, it is
 * the close code (default 4001). `expiresAt` (ms since the epoch, as `Date.now()`) says when the
 * answer stops being true: ahead of it the server asks the client for a new token (`tokenRefresh`),
 * and at it a connection that sent none is closed with 4001.
 *
 * @example
 * ```ts
 * const ok: AuthResult<User> = { success: true, data: { id: 'u1', name: 'Ada', accountId: 'a1' } };
 * const until: AuthResult<User> = { success: true, data: user, expiresAt: claims.exp * 1000 };
 * const no: AuthResult<User> = { success: false, reason: 'Session expired' };
 * ```
 */
export type AuthResult<AuthData> =
	| { success: true; data: AuthData; expiresAt?: number }
	| { success: false; code?: number; reason?: string };

/**
 * An application's answer as an `AuthResult`, whatever it returned: anything but
 * `{ success: true }` is a refusal, and an `expiresAt` that is not a finite number is none.
 */
export function authResult(value: unknown): AuthResult<unknown> {
	if (!isRecord(value)) return { success: false };
	if (value.success === true) {
		const { expiresAt } = value;
		return Number.isFinite(expiresAt)
			? { success: true, data: value.data, expiresAt: expiresAt as number }
			: { success: true, data: value.data };
	}
	const { code, reason } = value;
	return {
		success: false,
		code: typeof code == 'number' ? code : undefined,
		reason: typeof reason == 'string' ? reason : undefined
	};
}

/**
 * First-message authentication: the first frame is `{name:'auth', data:{token}}` or the bare token.
 */
export interface FirstMessageAuth<AuthData> {
	/** Checks a token; a refusal closes with `code` (default 4001 invalid token). */
	verify(
		token: string,
		request: IncomingMessage
	): AuthResult<AuthData> | Promise<AuthResult<AuthData>>;
	/** Close with 4002 when no token arrived within this many ms. Default 5 000. */
	timeout?: number;
	/** Close new connections with 4003 while this many wait for their token. Default 100. */
	maxPending?: number;
}

/**
 * Per-route permessage-deflate. Off unless `enabled`: compressing costs CPU and, under many concurrent
 * compressions, fragments Node's memory.
 */
export interface CompressionOptions {
	enabled: boolean;
	/** Messages smaller than this many bytes are sent uncompressed. Default 1 024. */
	threshold?: number;
	/** Compressions running at once per process. Default 10. */
	concurrencyLimit?: number;
}

/**
 * An application message a route's `onMessage` receives: anything that is not part of the protocol
 * and has no typed handler.
 */
export interface IncomingMessageFrame {
	readonly name: string;
	readonly data: unknown;
	readonly id?: number;
}

/**
 * A route's presence: who each connection is present as, and in which rooms. Presence costs the
 * engine a write per join and leave, so a route asks for it.
 */
export interface PresenceOptions<AuthData = unknown> {
	/**
	 * The user a connection is present as: an `id` that the user's tabs and devices share (they are
	 * merged into one entry with a connection count) and the public `data` the room's members see.
	 */
	member: (connection: Connection<AuthData>) => PresenceMember;
	/** Which rooms keep presence. Default: every room of the route. */
	rooms?: (room: string) => boolean;
	/**
	 * How long (ms) a connection that dropped stays listed while its user is expected back: a
	 * reconnect within it never shows as a leave and a join. A leave the client asked for (`leaveRoom`,
	 * closing the tab) is announced at once. Default 5 000; 0 announces every leave at once.
	 */
	grace?: number;
}

/**
 * Renewing a connection's authentication on the open socket, for routes whose `AuthResult` carries
 * `expiresAt` (PROTOCOL.md, "Token refresh").
 */
export interface TokenRefreshOptions<AuthData = unknown> {
	/**
	 * How long before `expiresAt` the server sends `auth.refresh`. Default 60 000, and never more than
	 * half the time the answer had left when it was given.
	 */
	lead?: number;
	/**
	 * Checks a refreshed token. Default `firstMessageAuth.verify`. A route with `authenticate` and no
	 * `verify` sends no `auth.refresh`: at `expiresAt` it closes with 4001 and the client reconnects
	 * through `authenticate` again.
	 */
	verify?: (
		token: string,
		connection: Connection<AuthData>
	) => AuthResult<AuthData> | Promise<AuthResult<AuthData>>;
}

/**
 * Exactly-once requests (PROTOCOL.md, "Exactly-once requests"): how a route keeps the keys clients
 * put on requests, and the first answer of each, so that a repeat of a key (a retry after a lost
 * connection, on any process sharing the engine) gets that answer and no handler runs twice.
 */
export interface RequestKeysOptions<AuthData = unknown> {
	/**
	 * Whose keys a connection's requests share: a repeat is recognised within one scope only.
	 * Default the route path and `connection.userId`, so every tab and device of a user shares them;
	 * a connection without a user id (or for which this returns `undefined`) has a scope of its own.
	 */
	scope?: (connection: Connection<AuthData>) => string | undefined;
	/** Milliseconds an answer is kept for repeats after it was given. Default 600 000 (10 min). */
	window?: number;
	/**
	 * Milliseconds a key holds while its handlers run without answering: past it (their process
	 * died, or they never answer), a repeat runs the handlers again. Default 30 000.
	 */
	lease?: number;
	/** Answers kept per scope; past it the oldest go (the latest always stays). Default 1 000. */
	maxKeys?: number;
	/**
	 * Bytes of answers (their JSON text) kept per scope; past it the oldest go (the latest always
	 * stays). An answer larger than this is kept as the error `answer_not_kept`: a repeat is not run
	 * again. Default 1 MiB.
	 */
	maxBytes?: number;
}

/**
 * One socket endpoint: its path, how it authenticates, what it allows, and its handlers.
 *
 * @example
 * ```ts
 * const route: RouteOptions<User> = {
 * 	path: '/ws',
 * 	firstMessageAuth: {
 * 		verify: async (token) => {
 * 			const user = await sessions.find(token);
 * 			return user ? { success: true, data: user } : { success: false };
 * 		}
 * 	},
 * 	authorizeJoin: (connection, room) => room == `account:${connection.authData.accountId}`,
 * 	onConnect: (connection) => console.log('hello', connection.authData.name)
 * };
 * ```
 */
export interface RouteOptions<AuthData = unknown> {
	/** `/ws`, `/ws/:project` (captured in `connection.params`) or `/ws/*`. */
	path: string;
	/** Authenticates the upgrade request (header, cookie, query…); a refusal is an HTTP 401 before the upgrade. */
	authenticate?: (request: IncomingMessage) => AuthResult<AuthData> | Promise<AuthResult<AuthData>>;
	/** Authenticates by the first frame instead. A route uses `authenticate` or this, not both. */
	firstMessageAuth?: FirstMessageAuth<AuthData>;
	/**
	 * Which user a connection is: what `disconnectUser`, `reauthorizeUser` and
	 * `maxConnectionsPerUser` go by, and what a refreshed token must still name. Default
	 * `authData.id` when it is a string or a number; `undefined` is no user.
	 */
	userId?: (authData: AuthData) => string | undefined;
	/** Renewing authentication in place before it expires. */
	tokenRefresh?: TokenRefreshOptions<AuthData>;
	/**
	 * Connections one user (`userId`) may have open on this route, across every process on the same
	 * engine; the next is closed with 4005, never an open one. Default: no limit.
	 */
	maxConnectionsPerUser?: number;
	/** What of the connection the `connected` message shows besides its id. Default nothing. */
	connectedData?: (connection: Connection<AuthData>) => Record<string, unknown>;
	/** Whether a connection may join a room. Default: any room. */
	authorizeJoin?: (connection: Connection<AuthData>, room: string) => boolean | Promise<boolean>;
	/** Browser origins allowed to connect. Default `'same-host'`. */
	origins?: OriginPolicy;
	/** WebSocket ping every this many ms; a peer that has not answered by the next one is terminated. Default 30 000; 0 off. */
	heartbeat?: number;
	/** Send `{name:'heartbeat', data:{server_time}}` every this many ms. Default 0 (off). */
	serverHeartbeat?: number;
	/** Largest inbound frame in bytes; larger ones close the connection with 1009. Default 65 536. */
	maxPayload?: number;
	/** Per-connection inbound rate limit; `false` for none. */
	rateLimit?: RateLimit | false;
	/**
	 * Outbound bytes (framed, with the queue's bookkeeping) a connection may have waiting before it is
	 * closed with 1013 as too slow. Judged by the backlog before each message, so one large message
	 * never closes a reader whose buffer is empty. Default 1 MiB.
	 */
	maxBufferedBytes?: number;
	/** Rooms one connection may be in; a `room.join` past it is answered `too_many_rooms`. Default 100. */
	maxRoomsPerConnection?: number;
	/**
	 * Keeps presence for this route's rooms (all, or those `rooms` picks): who is in each, merged by
	 * the user `member` names. Members get `presence.state` after a join and `presence.diff` on every
	 * change (PROTOCOL.md, "Presence"). Off by default: it costs the engine a write per join and leave.
	 */
	presence?: PresenceOptions<AuthData>;
	compression?: CompressionOptions;
	onConnect?: (connection: Connection<AuthData>) => void | Promise<void>;
	/**
	 * Every message no typed handler knows (and no protocol name). A request (`message.id`) is
	 * answered with `reply`, as a typed handler's is: once, and `no_reply` when nothing answered it
	 * within 5 s.
	 */
	onMessage?: (
		connection: Connection<AuthData>,
		message: IncomingMessageFrame,
		reply: Reply
	) => void | Promise<void>;
	/**
	 * Keys on requests (`{"name", "data", "key", "id"}`): handlers run once per key, and a repeat
	 * gets the first answer (a repeat while they run waits for it). Kept by the engine's
	 * `requestKeys` (across processes with `RedisEngine`), else in this process. On by default;
	 * `false` ignores keys.
	 *
	 * @example
	 * ```ts
	 * const route: RouteOptions = { path: '/ws', requestKeys: { window: 60_000, maxKeys: 200 } };
	 * ```
	 */
	requestKeys?: RequestKeysOptions<AuthData> | false;
	onClose?: (connection: Connection<AuthData>, code: number, reason: string) => void;
	onError?: (connection: Connection<AuthData>, error: Error) => void;
}

/**
 * Options of `createSocketServer`.
 *
 * @example
 * ```ts
 * const options: SocketServerOptions = { routes: [{ path: '/ws' }], maxConnections: 5_000 };
 * ```
 */
export interface SocketServerOptions {
	/** The endpoints; wrap each in `defineRoute` to type its `authData`. */
	routes: readonly RouteOptions<unknown>[];
	/** Where rooms live. Default a `MemoryEngine` (one process). */
	engine?: Engine;
	/**
	 * Connections across all routes, counting upgrades in progress and unanswered upgrades to other
	 * paths; more are refused with HTTP 503. Default 10 000.
	 */
	maxConnections?: number;
	/**
	 * Largest message, serialised, that `publish`, `to(room).emit` and `connection.broadcast` accept;
	 * larger ones are refused with a `RangeError` before anything is sent. Default 512 KiB.
	 */
	maxMessageSize?: number;
}

/**
 * Types a route by the user data its authentication produces, then hands it to the server, which
 * only passes that data through.
 *
 * @example
 * ```ts
 * const route = defineRoute<User>({
 * 	path: '/ws',
 * 	authenticate: async (request) => {
 * 		const user = await sessions.find(tokenFromCookie(request, 'session'));
 * 		return user ? { success: true, data: user } : { success: false };
 * 	},
 * 	onConnect: (connection) => console.log(connection.authData.name)
 * });
 * createSocketServer({ routes: [route] });
 * ```
 */
export function defineRoute<AuthData>(route: RouteOptions<AuthData>): RouteOptions<unknown> {
	return route as unknown as RouteOptions<unknown>;
}

/** Every default of a route, in one place (PROTOCOL.md and the README list them too). */
export const ROUTE_DEFAULTS = {
	heartbeat: 30_000,
	serverHeartbeat: 0,
	maxPayload: 64 * 1024,
	maxBufferedBytes: 1024 * 1024,
	maxRoomsPerConnection: 100,
	authTimeout: 5_000,
	maxPendingAuth: 100,
	compressionThreshold: 1024,
	compressionConcurrency: 10,
	refreshLead: 60_000,
	presenceGrace: 5_000,
	requestKeyWindow: 600_000,
	requestKeyLease: 30_000,
	requestKeysPerScope: 1000,
	requestKeyBytesPerScope: 1024 * 1024
} as const;

/** The server-wide default connection cap. */
export const DEFAULT_MAX_CONNECTIONS = 10_000;
