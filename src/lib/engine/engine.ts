import type { StreamPosition } from '../protocol/envelope.js';
import type { PresenceEntry } from '../protocol/presence.js';

// Where a room's stream stands is part of the protocol: the same type the client tracks.
export type { StreamPosition };

/**
 * How much of a room's history an engine keeps: the last `size` messages, each for `ttl` ms. `size`
 * 0 keeps none (offsets are still assigned).
 */
export interface HistoryPolicy {
	/** Messages kept per room (default 100; 0 = no history). */
	size: number;
	/** Milliseconds each message is kept (default 300 000 = 5 min). */
	ttl: number;
}

/**
 * The history an engine keeps: one policy for every room, or a function choosing per room (its
 * `undefined`, and every field it leaves out, take the defaults: size 100, ttl 5 min).
 */
export type HistoryOptions =
	Partial<HistoryPolicy> | ((room: string) => Partial<HistoryPolicy> | undefined);

/**
 * How an engine hands a message published to `room` to this process, which passes it on to its
 * members there. `except` names a connection id that must not receive it (a sender that broadcast
 * without `includeSelf`).
 */
export type Deliver = (room: string, message: unknown, except?: string) => void;

/**
 * What an engine calls back: `deliver` for every message published to a room this process
 * subscribed, and `resync` when the engine lost its feed and got it back (e.g. Redis reconnected):
 * messages published in between never reached `deliver`, so local rooms may have gaps to recover
 * from history.
 */
export interface EngineHandlers {
	deliver: Deliver;
	/** The engine lost and regained its feed (e.g. Redis reconnected): local rooms may have missed messages. */
	resync?(): void;
	/** Who is in `room` changed (engines that keep presence call it for rooms this process is in). */
	presence?(room: string, change: PresenceChange): void;
	/**
	 * The engine gave `room` up: its backend refuses the room (e.g. a Redis ACL that does not allow
	 * its channel), when it was subscribed or resubscribed after an outage. This process gets none of
	 * its messages: the server tells the room's members and drops them from it (a later join asks the
	 * engine again). Other rooms are not affected.
	 */
	refused?(room: string, error: Error): void;
	/**
	 * A command for the server, sent by `engine.command` on this process or another one on the same
	 * engine (e.g. close a user's connections). Engines without `command` never call it.
	 */
	command?(command: EngineCommand): void;
}

/**
 * What one process asks of every process on the engine: close every connection of a user
 * (`disconnect-user`, with the close code and reason), or check every room of its connections again
 * (`reauthorize-user`).
 */
export type EngineCommand =
	| {
			readonly type: 'disconnect-user';
			readonly userId: string;
			readonly code: number;
			readonly reason: string;
	  }
	| { readonly type: 'reauthorize-user'; readonly userId: string };

/**
 * How an engine counts connections per user across processes: a slot per connection under a `key`
 * (the server makes it of the route and the user). `claim` takes one unless `max` are taken already
 * and answers whether it did; `release` gives it back. A process that dies without releasing its
 * slots loses them after the engine's TTL (Redis: `presenceTtl`).
 */
export interface EngineUserSlots {
	claim(key: string, connectionId: string, max: number): boolean | Promise<boolean>;
	release(key: string, connectionId: string): void | Promise<void>;
}

/**
 * What a request key holds, as `EngineRequestKeys.claim` finds it: `claimed` (nobody had it, or the
 * claim before ran out: the caller runs the handlers now), `running` (another claim is at work:
 * wait, then ask again), or `answered` with the answer kept for it (a JSON text `[name, data]`,
 * e.g. `["reply",{"uuid":"a1"}]`), which the server sends again under the repeat's id.
 */
export type RequestKeyState =
	| { readonly state: 'claimed' }
	| { readonly state: 'running' }
	| { readonly state: 'answered'; readonly answer: string };

/**
 * How long and how much a scope's request keys are kept (route option `requestKeys`).
 */
export interface RequestKeyLimits {
	/** Milliseconds an answer is kept after it was given. */
	readonly window: number;
	/**
	 * Milliseconds a claim holds without an answer: past it, the next repeat claims the key again
	 * (the process that held it died mid-handler).
	 */
	readonly lease: number;
	/** Answers kept per scope: past it, the oldest goes. */
	readonly maxKeys: number;
	/** Bytes of answers (their JSON text) kept per scope: past it, the oldest go. */
	readonly maxBytes: number;
}

/**
 * Where the server keeps request keys and their answers (PROTOCOL.md, "Exactly-once requests"),
 * per `scope` (the server makes it of the route and the user). `claim` is atomic: of two callers
 * racing on one key, on any processes sharing the engine, one gets `claimed`. `settle` keeps the
 * answer of a key the caller claimed, for `limits.window`, evicting the scope's oldest answers past
 * `maxKeys` or `maxBytes` (an answer longer than `maxBytes` is kept as `["error",{"code":
 * "answer_not_kept",…}]`); `release` gives a claim up without an answer (no handler ran), so the
 * next repeat claims it.
 */
export interface EngineRequestKeys {
	claim(
		scope: string,
		key: string,
		limits: RequestKeyLimits
	): RequestKeyState | Promise<RequestKeyState>;
	settle(
		scope: string,
		key: string,
		answer: string,
		limits: RequestKeyLimits
	): void | Promise<void>;
	release(scope: string, key: string): void | Promise<void>;
}

/**
 * A change in a room's presence: entries to put (a new user, or another connection count) and user
 * ids to drop.
 */
export interface PresenceChange {
	readonly set: Record<string, PresenceEntry>;
	readonly removed: readonly string[];
}

/**
 * One connection present in a room, as an engine tracks it: which user it is, and what others see.
 */
export interface PresenceMember {
	readonly id: string;
	readonly data?: unknown;
}

/**
 * Options of `engine.history`.
 */
export interface HistoryReadOptions {
	/**
	 * `since` is a position this process delivered, not one a client sent. A room now behind it (same
	 * epoch, lower offset: e.g. a Redis replica promoted before it had the last writes) lost messages
	 * its members saw, and the next publishes would reuse their offsets, which clients drop as
	 * duplicates: the engine starts a new epoch instead, so every member is told the room is
	 * unrecoverable. A client's position never does this, or any client could reset a room for all.
	 */
	readonly delivered?: boolean;
}

/**
 * How an engine keeps presence: which connections are in which rooms as which user, merged by user
 * across connections (and processes, for engines shared by several). Changes go to the `presence`
 * handler of every process with members in the room.
 */
export interface EnginePresence {
	track(room: string, connectionId: string, member: PresenceMember): void | Promise<void>;
	untrack(room: string, connectionId: string): void | Promise<void>;
	members(room: string): Record<string, PresenceEntry> | Promise<Record<string, PresenceEntry>>;
	/**
	 * For engines shared by processes: the connection's entry outlives this engine's `close()`, and
	 * goes when this process's time in the room runs out, as a crashed process's would (RedisEngine:
	 * `presenceTtl` after its last heartbeat). The server calls it as it closes, for connections in
	 * presence grace that members on other processes see: users who reconnect to another process,
	 * or to this one restarted (a deploy), are never seen leaving. Without it the server untracks them.
	 */
	expireAfterClose?(room: string, connectionId: string): void;
}

/**
 * Options of one publish.
 */
export interface PublishOptions {
	/** A connection id that must not receive the message. */
	except?: string;
}

/**
 * What `Engine.history` answers: the room's current `position`, and whether every message after the
 * asked position could be `recovered` (then `messages` has them, oldest first).
 */
export interface HistoryResult {
	readonly recovered: boolean;
	readonly position: StreamPosition;
	readonly messages: readonly Record<string, unknown>[];
}

/**
 * What carries published messages to the members of a room, wherever they are connected, and keeps
 * each room's recent history. The server keeps its own members per room and tells the engine which
 * rooms it needs (`subscribe` on the first local member, `unsubscribe` after the last); the engine
 * calls the `deliver` handler it was started with for every message published to such a room, by
 * any process. `MemoryEngine` is the single-process default; `runesocket/redis` shares rooms between
 * processes.
 *
 * @example
 * ```ts
 * const server = createSocketServer({ engine: new MemoryEngine(), routes: [{ path: '/ws' }] });
 * ```
 */
export interface Engine {
	/**
	 * Whether the engine can publish and deliver now (RedisEngine: connected to Redis and
	 * subscribed). Read by the server's metrics; an engine without it counts as always healthy.
	 */
	readonly healthy?: boolean;
	/** Presence, for engines that keep it (`MemoryEngine` does); routes with `presence` need it. */
	readonly presence?: EnginePresence;
	/**
	 * Per-user connection slots shared by every process on the engine (`maxConnectionsPerUser`).
	 * Without them a route's limit counts this process's connections only.
	 */
	readonly userSlots?: EngineUserSlots;
	/**
	 * Request keys and their answers, shared by every process on the engine (exactly-once requests).
	 * Without them the server keeps keys in its own process only.
	 */
	readonly requestKeys?: EngineRequestKeys;
	/**
	 * Runs `command` on every process on the engine: this one's `command` handler at once, the
	 * others' through the engine (Redis: its control channel). Resolves once it was sent; rejects
	 * when it could not be (this process acted on it all the same). Without it, `disconnectUser`
	 * and `reauthorizeUser` reach this process's connections only.
	 */
	command?(command: EngineCommand): Promise<void>;
	/** Called once by the server before anything else. */
	start(handlers: EngineHandlers): void | Promise<void>;
	/** Resolves once this process receives the room's messages. */
	subscribe(room: string): void | Promise<void>;
	unsubscribe(room: string): void | Promise<void>;
	/**
	 * Object messages get the room's next offset (previous + 1) and its epoch added as
	 * `offset`/`epoch` fields, atomically; they are kept in history and delivered to every process
	 * subscribed. Resolves with the position (undefined for non-object messages, which are delivered
	 * as-is without history). Rejects with a clear Error when it cannot publish (e.g. Redis down).
	 * The room '*' (everyone) gets no history: its messages are delivered as-is.
	 */
	publish(
		room: string,
		message: unknown,
		options?: PublishOptions
	): Promise<StreamPosition | undefined>;
	/**
	 * The room's current position, and when `since` is given and history still keeps EVERY message
	 * after it (same epoch, nothing trimmed by size or age), those messages in order with
	 * recovered: true; otherwise recovered: false and no messages. No `since` → recovered: true, no
	 * messages. The room '*' answers offset 0, epoch '' and recovers nothing.
	 */
	history(
		room: string,
		since?: StreamPosition,
		options?: HistoryReadOptions
	): Promise<HistoryResult>;
	close(): Promise<void>;
}

/**
 * The room every connection is in: what a publish without a room reaches. Clients cannot join it,
 * and it has no offsets and no history. A typed publish refuses it as a room name (leave the room
 * out); an engine's own `publish` takes it.
 *
 * @example
 * ```ts
 * await sockets.publish(Maintenance, { at: Date.now() }); // no room: every connection
 * await engine.publish(EVERYONE, { name: 'maintenance', data: {} }); // the same, through the engine
 * ```
 */
export const EVERYONE = '*';
