import {
	ABNORMAL_CLOSURE,
	GOING_AWAY,
	INVALID_TOKEN,
	NORMAL_CLOSURE,
	POLICY_VIOLATION,
	SESSION_REVOKED
} from '../protocol/close-codes.js';
import {
	AUTH_REFRESH_MESSAGE,
	envelopeDialect,
	READ_REPORT_PREFIX,
	ERROR_MESSAGE,
	isRecord,
	JOINED_MESSAGE,
	REPLY_MESSAGE,
	type Dialect,
	type InboundMessage,
	type StreamPosition
} from '../protocol/envelope.js';
import { describeIssues, validateMessage, type MessageDefinition } from '../protocol/message.js';
import type { StandardIssue, StandardResult, StandardSchema } from '../protocol/standard-schema.js';
import { reconnectDelay } from './backoff.js';
import {
	watchEnvironment,
	type DocumentLike,
	type PauseReason,
	type WindowLike
} from './environment.js';
import {
	Connected,
	Disconnected,
	ErrorRaised,
	MessageReceived,
	ReconnectAttempt,
	ReconnectFailed,
	SocketError,
	StateChanged,
	Unrecoverable,
	type ClientEvent,
	type ConnectionState,
	type SocketErrorKind
} from './events.js';
import { heartbeat, type Heartbeat } from './heartbeat.js';
import { readReports, type ReadReports } from './read-reports.js';
import { OPEN, OPENING, PAUSED, STOPPED, WAITING, type Phase } from './phases.js';

/** A handler type whose parameter is checked bivariantly, so DOM and `ws` sockets both fit. */
type EventHandler<Event> = { bivarianceHack(event: Event): void }['bivarianceHack'];

/**
 * The part of a WebSocket the client uses: the browser's `WebSocket` and the `ws` package's both fit.
 */
export interface WebSocketLike {
	readonly readyState: number;
	send(data: string): void;
	close(code?: number, reason?: string): void;
	onopen: EventHandler<unknown> | null;
	onmessage: EventHandler<{ readonly data: unknown }> | null;
	onerror: EventHandler<unknown> | null;
	onclose: EventHandler<{ readonly code: number; readonly reason: string }> | null;
}

/**
 * A WebSocket class: `globalThis.WebSocket` in browsers, `ws`'s default export in Node 20.
 */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * Where to connect: a URL, or a function (sync or async) asked before every connection attempt.
 */
export type UrlSource = string | URL | (() => string | URL | Promise<string | URL>);

/**
 * What a token getter learns about the connection it is asked for: the attempt number (0 for a
 * first connection), whether the server just refused the previous token as invalid (4001), and
 * whether the token is for the open connection (the server sent `auth.refresh`) rather than for a
 * new one.
 */
export interface AuthContext {
	readonly attempt: number;
	readonly expired: boolean;
	readonly refresh: boolean;
}

/**
 * Options of `SocketClient`. Every one is optional; the defaults suit a browser app.
 *
 * @example
 * ```ts
 * const options: SocketClientOptions = { auth: () => getToken(), heartbeatInterval: 15_000 };
 * ```
 */
export interface SocketClientOptions {
	/** Reconnect after an unexpected close. Default `true`. */
	reconnect?: boolean;
	/**
	 * SMALLEST backoff window in ms (full jitter: each delay is random below the window, which
	 * doubles per attempt up to `maxReconnectDelay`). Note: `createWebSocket`'s `reconnectDelay` is
	 * the LONGEST wait instead. Default 500.
	 */
	reconnectDelay?: number;
	/**
	 * Largest backoff window in ms. Default 5 000: after an outage, the last clients are back within
	 * about this long once the server is (bench/reconnect-storm: 14 s with 20 000), and 1,000 clients
	 * at the cap still arrive spread at about 20 per 100 ms.
	 */
	maxReconnectDelay?: number;
	/** Give up (and emit `ReconnectFailed`) after this many attempts in a row. Default `Infinity`. */
	maxReconnectAttempts?: number;
	/**
	 * Abandon a connection attempt that has not opened after this many ms, counted from when the URL
	 * and the token are asked for; 0 waits forever. Default 5 000.
	 */
	connectionTimeout?: number;
	/** Ping every this many ms while connected; 0 turns the heartbeat off. Default 25 000. */
	heartbeatInterval?: number;
	/** Close and reconnect when nothing arrives this many ms after a ping. Default 5 000. */
	heartbeatTimeout?: number;
	/**
	 * Token getter, called before every connection; its token is the connection's first frame. Also
	 * called with `refresh: true` when a runesocket server asks for a fresh token (`auth.refresh`):
	 * that token goes out on the open connection.
	 */
	auth?: (context: AuthContext) => string | null | undefined | Promise<string | null | undefined>;
	/** Close codes that stop reconnection, besides 1008 and 4004 which always do. Default none. */
	stopCloseCodes?: readonly number[];
	/** Most messages kept while disconnected; the oldest is dropped (and reported) past it. Default 100. */
	maxBufferSize?: number;
	/** Buffered messages older than this many ms are dropped (and reported) instead of sent. Default 30 000. */
	maxBufferAge?: number;
	/**
	 * Default `request()` timeout in ms; also how long `Connected` waits for the answers to rejoins
	 * from a position. Default 10 000.
	 */
	requestTimeout?: number;
	/** The wire dialect. Default `envelopeDialect`, runesocket's own protocol. */
	protocol?: Dialect;
	/** The WebSocket class. Default `globalThis.WebSocket`; Node 20 needs `ws`'s. */
	WebSocket?: WebSocketConstructor;
	/** The window whose network and back/forward-cache events to follow; `null` for none. Default `globalThis.window`. */
	window?: WindowLike | null;
	/** The document whose visibility to follow; `null` for none. Default `globalThis.document`. */
	document?: DocumentLike | null;
}

/**
 * Options of a single send.
 */
export interface SendOptions {
	/** Queue the message while disconnected (default), or throw `Not connected` when `false`. */
	buffer?: boolean;
}

/**
 * Options of a single request.
 */
export interface RequestOptions {
	/** Reject when no reply came within this many ms. Default: the client's `requestTimeout`. */
	timeout?: number;
	/**
	 * Makes the request exactly-once on a runesocket server: a string of 1..64 characters, the same
	 * on every attempt of one logical request. The server runs its handlers once per key and answers
	 * a repeat with the first answer. The client only puts it on the wire; sending again is the
	 * caller's (`Outbox` does it). Other dialects leave it out.
	 */
	key?: string;
}

/** The numeric options' defaults, checked alike; `reconnect` is true unless `false`. */
const DEFAULTS = {
	reconnectDelay: 500,
	maxReconnectDelay: 5_000,
	maxReconnectAttempts: Infinity,
	connectionTimeout: 5_000,
	heartbeatInterval: 25_000,
	heartbeatTimeout: 5_000,
	maxBufferSize: 100,
	maxBufferAge: 30_000,
	requestTimeout: 10_000
};

/**
 * The longest wait an option gives a timer: about 23 days, under the 2^31 − 1 ms past which Node and
 * browsers fire a timer at once (`heartbeatInterval: Infinity` pinged every millisecond, issue 17).
 * Numeric options are cut to it.
 */
export const MAX_TIMER_MS = 2e9;

/** A connection must stay up this long before the backoff starts from the bottom again. */
const STABLE_CONNECTION_MS = 5_000;

const STATES = ['disconnected', 'disconnected', 'reconnecting', 'connecting', 'connected'] as const;

/**
 * One room this client is in: how many joins retain it (its leave goes out when the last is
 * released), and the last message seen (a rejoin asks for what followed).
 */
interface Room {
	joins: number;
	position?: StreamPosition;
}

type Handler = (data: unknown, message?: InboundMessage) => void;
type Subscribable = { readonly name: string | symbol; readonly schema: StandardSchema | undefined };
type Settle = (error: SocketError | null, reply?: unknown) => void;
type Token = string | null | undefined;

const noop = () => {};

/**
 * A WebSocket client that stays connected: full-jitter reconnection, heartbeats, token auth on every
 * connection, reference-counted rooms rejoined after each reconnect, a bounded send buffer, requests
 * with replies, and typed messages validated by any Standard Schema before a handler sees them.
 * Framework-free and dependency-free; it touches no `window` or `document` until `connect()`.
 *
 * @example
 * ```ts
 * import { SocketClient, ClientMessage, Connected } from 'runesocket';
 *
 * const IncidentCreated = ClientMessage.define<{ uuid: string; title: string }>('incident.created');
 * const client = new SocketClient('wss://example.com/ws', { auth: () => getToken() });
 * client.on(Connected, ({ reconnected }) => reconnected && refetch());
 * client.on(IncidentCreated, (incident) => console.log(incident.title));
 * client.joinRoom('account:42');
 * client.connect();
 * ```
 */
export class SocketClient {
	#url: UrlSource;
	#options: typeof DEFAULTS & SocketClientOptions;
	#dialect: Dialect;
	#phase: Phase = STOPPED;
	/** Bumped by every `#enter`, so that a step still awaiting a promise sees it was overtaken. */
	#entered = 0;
	/** Owned by OPENING and OPEN. */
	#socket: WebSocketLike | null = null;
	/**
	 * Owned by WAITING (the reconnect delay), OPENING (the connection timeout) and OPEN (the deadline
	 * for rejoin answers).
	 */
	#timer: ReturnType<typeof setTimeout> | undefined;
	/** The state and pause reason last published, so each change is announced once. */
	#published = 'disconnected';
	/** What keeps the page from connecting now: filled by the environment watcher. */
	#blockers = new Set<PauseReason>();
	#attempt = 0;
	#hasConnected = false;
	#openedAt = 0;
	#lastCloseCode = 0;
	#nextRequestId = 0;
	#pending = new Map<number, Settle>();
	#listeners = new Map<string | symbol, Map<Subscribable, Set<Handler>>>();
	#rooms = new Map<string, Room>();
	/** Rooms rejoined from a position whose answer the connection still awaits: Connected waits too. */
	#awaited = new Set<string>();
	/**
	 * Rooms whose join went out and is not answered yet: a `forbidden` naming one refuses that join
	 * (the room is kept, and asked for again on reconnect), while one naming a room not awaiting an
	 * answer says the server took it away (the room is dropped).
	 */
	#joining = new Set<string>();
	/** Whether every rejoin of this connection caught up exactly: set by each #opened. */
	#recovered!: boolean;
	/** Frames sent while disconnected, with when each was queued: bounded by count, then by age. */
	#buffer: [frame: string, queuedAt: number][] = [];
	#heartbeat: Heartbeat;
	/** Owned by OPEN, with dialects that report what they read. */
	#reads: ReadReports | undefined;
	#stopWatching: (() => void) | undefined;
	#disposed = false;
	/** Messages waiting behind an async schema; later messages queue behind them. */
	#backlog = 0;
	#queue: Promise<unknown> = Promise.resolve();

	constructor(url: UrlSource, options: SocketClientOptions = {}) {
		if (typeof url != 'string' && typeof url != 'function' && !(url instanceof URL)) {
			throw new TypeError(`Bad url: ${String(url)}`);
		}
		this.#url = url;
		this.#options = { ...DEFAULTS, ...options };
		for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
			const value = this.#options[key];
			if (!(value >= 0)) throw new TypeError(`${key} must be >= 0`);
			// Infinity (or any wait past the timer limit) means "never", as far as a timer can say it.
			this.#options[key] = Math.min(value, MAX_TIMER_MS);
		}
		this.#dialect = options.protocol ?? envelopeDialect;
		const { heartbeatInterval, heartbeatTimeout } = this.#options;
		this.#heartbeat = heartbeat(
			heartbeatInterval,
			heartbeatTimeout,
			() => this.#sendNow(this.#dialect.ping),
			() => this.#lost('heartbeat', 'Heartbeat timeout')
		);
	}

	/** The current state. */
	get connectionState(): ConnectionState {
		// Derived from the phase: every phase change publishes it at once (#enter), so it is always
		// the state last announced.
		const phase = this.#phase;
		return phase == OPENING && (this.#hasConnected || this.#attempt)
			? 'reconnecting'
			: STATES[phase];
	}

	/**
	 * Why a `disconnected` client is waiting rather than stopped: the page is `offline`, `hidden` or
	 * `frozen` (in the back/forward cache), and the client reconnects by itself once it no longer is.
	 * `undefined` in every other state. `onStateChange` handlers are called when it changes too.
	 */
	get pausedBy(): PauseReason | undefined {
		return this.#phase == PAUSED ? this.#blocker : undefined;
	}

	/** Whether messages go out now rather than into the buffer. */
	get isConnected(): boolean {
		return this.#phase == OPEN;
	}

	/**
	 * Rooms this client is in (rejoined after every reconnect). A room the server takes away (an
	 * `error` `forbidden` naming it, when no join of it awaits an answer) is dropped from it.
	 */
	get joinedRooms(): ReadonlySet<string> {
		return new Set(this.#rooms.keys());
	}

	/** The underlying WebSocket while one exists, for what the client does not wrap (e.g. `bufferedAmount`). */
	get socket(): WebSocketLike | null {
		return this.#socket;
	}

	/**
	 * Starts connecting and keeps the connection up. Calling it again while it does is a no-op. The
	 * socket exists when it returns, unless the URL function or the token getter returns a promise:
	 * then it is created once both resolved.
	 */
	connect(): void {
		if (this.#disposed) throw new Error('SocketClient disposed');
		// The global one is looked up here, not before: the app may install it after creating the client.
		this.#options.WebSocket ??= (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
		if (!this.#options.WebSocket) throw new TypeError('No WebSocket: pass options.WebSocket');
		this.#stopWatching ??= this.#watchEnvironment();
		if (this.#phase) return;
		this.#attempt = 0;
		// Hidden alone does not keep back a first connection: only a reconnect waits to be seen.
		if (this.#blocker && this.#blocker != 'hidden') this.#enter(PAUSED);
		else this.#open();
	}

	/** Closes the connection (1000), stops reconnecting until the next `connect()`, and clears the buffer. */
	disconnect(): void {
		this.#buffer = [];
		this.#closed(NORMAL_CLOSURE, 'Client disconnected', false);
	}

	/** Disconnects and removes every listener and timer the client ever added. */
	dispose(): void {
		this.disconnect();
		this.#stopWatching?.();
		this.#listeners.clear();
		this.#disposed = true;
	}

	/**
	 * Subscribes to a lifecycle event (`Connected`, `Disconnected`, `ReconnectAttempt`,
	 * `ReconnectFailed`, `Unrecoverable`) or to a message definition; returns the unsubscribe function.
	 */
	on<Payload>(event: ClientEvent<Payload>, handler: (payload: Payload) => void): () => void;
	on<Data>(
		definition: MessageDefinition<Data>,
		handler: (data: Data, message: InboundMessage) => void
	): () => void;
	on(target: Subscribable, handler: (data: never, message: InboundMessage) => void): () => void {
		if (!target?.name || typeof handler != 'function') {
			throw new TypeError('on(definition, handler)');
		}
		// Setting what is already there changes nothing (not even the order): one path, 4 B less.
		const byDefinition = this.#listeners.get(target.name) ?? new Map();
		this.#listeners.set(target.name, byDefinition);
		const handlers = byDefinition.get(target) ?? new Set();
		byDefinition.set(target, handlers);
		handlers.add(handler as Handler);
		return () => {
			handlers.delete(handler as Handler);
			// Nobody listens to the definition any more: forget it, so its schema no longer runs
			// (and warns) on every message of its name. Unless `on` gave it a new set meanwhile.
			if (!handlers.size && byDefinition.get(target) == handlers) byDefinition.delete(target);
		};
	}

	/** Calls `handler` with every new state, and when `pausedBy` changes. */
	onStateChange(handler: (state: ConnectionState) => void): () => void {
		return this.on(StateChanged, handler);
	}

	/** Calls `handler` with every `SocketError`. Without any handler, errors go to `console.warn`. */
	onError(handler: (error: SocketError) => void): () => void {
		return this.on(ErrorRaised, handler);
	}

	/** Calls `handler` with every inbound message, before validation, whatever its name. */
	onMessage(handler: (message: InboundMessage) => void): () => void {
		return this.on(MessageReceived, handler);
	}

	/**
	 * Reports data a schema refused: a `validation` SocketError, `Invalid "<name>": <issues>`, to the
	 * `onError` handlers. The way every refusal goes, the client's own and a LiveSocket's, which
	 * validates its feeds' messages at its flush.
	 *
	 * @internal
	 */
	reportInvalid(message: InboundMessage | undefined, issues: readonly StandardIssue[]): void {
		this.#error('validation', `Invalid "${message?.name}": ${describeIssues(issues)}`, {
			message,
			issues
		});
	}

	/** Sends a typed message; buffered while disconnected unless `{ buffer: false }`. */
	emit<Data>(definition: MessageDefinition<Data>, data: Data, options?: SendOptions): void {
		this.send(definition.name, data, options);
	}

	/** Sends a message by name, untyped. Prefer `emit`. */
	send(name: string, data?: unknown, options?: SendOptions): void {
		if (typeof name != 'string' || !name) throw new TypeError('Message name required');
		this.#transmit(this.#dialect.encode({ name, data }), options?.buffer ?? true);
	}

	/**
	 * Sends a frame as it is, outside the dialect's envelope (a bare token, a foreign protocol).
	 * Unlike `send`, it throws `Not connected` while disconnected unless `{ buffer: true }`.
	 */
	sendRaw(data: string, options?: SendOptions): void {
		this.#transmit(data, !!options?.buffer);
	}

	/**
	 * Sends a message that the server answers; resolves with the reply's data. Rejects with a
	 * `SocketError`: `closed` when not connected or when the connection closes first, `timeout`, or
	 * `server` when the server answers with an error.
	 */
	request<Reply = unknown, Data = unknown>(
		definition: MessageDefinition<Data>,
		data: Data,
		options?: RequestOptions
	): Promise<Reply> {
		return new Promise((resolve, reject) => {
			const id = ++this.#nextRequestId;
			this.#transmit(
				this.#dialect.encode({ name: definition.name, data, key: options?.key, id }),
				false
			);
			const timer = setTimeout(
				() => settle(new SocketError('timeout', `No reply to "${definition.name}"`)),
				Math.min(options?.timeout ?? this.#options.requestTimeout, MAX_TIMER_MS)
			);
			const settle: Settle = (error, reply) => {
				clearTimeout(timer);
				this.#pending.delete(id);
				if (error) reject(error);
				else resolve(reply as Reply);
			};
			this.#pending.set(id, settle);
		});
	}

	/**
	 * Joins a room (reference-counted); returns a function that leaves it once. With `since` (e.g. the
	 * position a page's data was loaded at), the server replays everything after it.
	 */
	joinRoom(room: string, since?: StreamPosition): () => void {
		if (typeof room != 'string' || !room) throw new TypeError('Room name required');
		let entry = this.#rooms.get(room);
		if (!entry) {
			this.#rooms.set(room, (entry = { joins: 0 }));
			// Also while disconnected: harmless, as #opened sends every join again.
			this.#joining.add(room);
			this.#sendNow(this.#dialect.join(room, since));
		}
		if (since) entry.position = since;
		entry.joins++;
		let joined = true;
		return () => {
			if (joined && this.#rooms.get(room) == entry) this.leaveRoom(room);
			joined = false;
		};
	}

	/** Releases one join of a room; the leave goes out when the last join is released. */
	leaveRoom(room: string): void {
		const entry = this.#rooms.get(room);
		if (!entry || --entry.joins) return;
		// Its rejoin's answer no longer matters: Connected must not wait for it.
		this.#answered(room, true);
		this.#rooms.delete(room);
		this.#sendNow(this.#dialect.leave(room));
	}

	/** Forgets every room without sending leaves (e.g. the server dropped them at sign-out). */
	clearRooms(): void {
		this.#rooms.clear();
		// Their rejoins' answers no longer matter either: Connected waits for none of them.
		if (this.#awaited.size) {
			this.#awaited.clear();
			this.#announce();
		}
	}

	// The connection machine: one phase, changed only by #enter (client/phases.ts draws it). The
	// parts below would read well as modules of their own, but each split costs the bundle 35–111 B
	// against a budget under PartySocket's (issue 18's note has the figures), so they are sections.

	/** The most telling reason the page gives not to connect, if any. */
	get #blocker(): PauseReason | undefined {
		return (['offline', 'frozen', 'hidden'] as const).find((reason) => this.#blockers.has(reason));
	}

	/**
	 * The one way to change phase: tears down what the phase being left owned (its timer, its socket
	 * unless the new phase keeps it, the heartbeat), then publishes the state.
	 */
	#enter(phase: Phase, socket: WebSocketLike | null = null, reason?: string): void {
		this.#entered++;
		clearTimeout(this.#timer);
		this.#heartbeat.stop();
		this.#reads?.stop();
		const previous = this.#socket;
		if (previous && previous != socket) {
			// A no-op rather than null: `ws` throws an unhandled 'error' when a connecting socket is
			// closed with no listener.
			previous.onopen = previous.onmessage = previous.onclose = previous.onerror = noop;
			previous.close(NORMAL_CLOSURE, reason);
		}
		this.#socket = socket;
		this.#phase = phase;
		if (phase == OPEN) this.#heartbeat.start();
		// Only runesocket's own protocol reports what it read: another server would not know the frame.
		this.#reads =
			phase == OPEN && this.#dialect.decode == envelopeDialect.decode
				? readReports((count) => socket!.send(READ_REPORT_PREFIX + count))
				: undefined;
		this.#publish();
	}

	/** Announces the state once whenever it or `pausedBy` changed. */
	#publish(): void {
		const state = this.connectionState;
		const published = state + (this.pausedBy || '');
		if (published == this.#published) return;
		this.#published = published;
		this.#emit(StateChanged, state);
	}

	/**
	 * Asks for the URL and the token (#ask), then creates the socket with them. A URL, token or
	 * socket that fails is a failed attempt (1006).
	 */
	#open(): void {
		this.#enter(OPENING);
		// From the start: a URL function or a token getter that never settles is an attempt that
		// never opens.
		if (this.#options.connectionTimeout) {
			this.#timer = setTimeout(
				() => this.#lost('timeout', 'Connection timeout'),
				this.#options.connectionTimeout
			);
		}
		this.#ask(false, ([url, token]) => {
			const socket = (this.#socket = new this.#options.WebSocket!(String(url)));
			socket.onopen = () => this.#opened(socket, token as Token);
			socket.onmessage = (event) => this.#receive(event.data);
			socket.onclose = ({ code, reason }) => {
				// A failed attempt, or an open connection lost without a close frame.
				if (this.#phase != OPEN || code == ABNORMAL_CLOSURE) {
					this.#error('connect', `Connection lost (${code} ${reason})`, { code, reason });
				}
				this.#closed(code, reason);
			};
			socket.onerror = noop;
		});
	}

	/** The connection failed without a close frame (1006): `message` says why. */
	#lost(kind: SocketErrorKind, message: string): void {
		this.#error(kind, message);
		this.#closed(ABNORMAL_CLOSURE, message);
	}

	/** Auth first, then every room, then the buffer: the order the server relies on. */
	#opened(socket: WebSocketLike, token: Token): void {
		if (token != null && this.#dialect.auth) socket.send(this.#dialect.auth(token));
		this.#recovered = true;
		for (const [room, entry] of this.#rooms) {
			if (entry.position) this.#awaited.add(room);
			this.#joining.add(room);
			socket.send(this.#dialect.join(room, entry.position));
		}
		const now = (this.#openedAt = Date.now());
		let expired = 0;
		for (const [frame, at] of this.#buffer.splice(0)) {
			if (now - at > this.#options.maxBufferAge) expired++;
			else socket.send(frame);
		}
		if (expired) this.#error('expired', `${expired} expired`);
		this.#enter(OPEN, socket);
		// A state handler may have ended the connection already: the deadline would be nobody's.
		if (this.#phase != OPEN) return;
		// A server that never answers a rejoin (a hung one, another dialect's) must not keep
		// Connected waiting for good: a rejoin is a request, and gets a request's deadline. A room
		// unanswered by then counts as refused; an answer that comes later still counts.
		this.#timer = setTimeout(() => {
			for (const room of this.#awaited) {
				this.#error('timeout', 'Rejoin timeout', { room });
				this.#answered(room, false);
			}
		}, this.#options.requestTimeout);
		this.#announce();
	}

	/**
	 * The connection ended (or never came, or is being ended): everything waiting on it fails, and
	 * the client stops, pauses or waits to reconnect. `wanted` is false for `disconnect()`.
	 */
	#closed(code: number, reason: string, wanted = this.#phase > STOPPED): void {
		const wasOpen = this.#phase == OPEN;
		for (const settle of this.#pending.values()) {
			settle(new SocketError('closed', 'Closed', { code, reason }));
		}
		const refusedToken = code == INVALID_TOKEN && this.#lastCloseCode != code;
		this.#lastCloseCode = code;
		if (wasOpen && Date.now() - this.#openedAt >= STABLE_CONNECTION_MS) this.#attempt = 0;
		const stop =
			code == POLICY_VIOLATION ||
			code == SESSION_REVOKED ||
			this.#options.stopCloseCodes?.includes(code);
		if (stop && wanted) {
			this.#error('closed', `Closed: ${code} ${reason}`, { code, reason });
		}
		const retry = wanted && !stop && this.#options.reconnect !== false;
		const willReconnect = retry && this.#attempt < this.#options.maxReconnectAttempts;
		const next = !willReconnect ? STOPPED : this.#blocker ? PAUSED : WAITING;
		this.#enter(next, null, reason);
		const entered = this.#entered;
		if (wasOpen) this.#emit(Disconnected, { code, reason, willReconnect });
		// A handler may have moved on already (disconnect(), connect()): its phase stands.
		if (entered != this.#entered) return;
		if (next == WAITING) this.#schedule(refusedToken);
		else if (retry && !willReconnect) this.#emit(ReconnectFailed, { attempts: this.#attempt });
	}

	/**
	 * Asks the app for the URL (unless `refresh`) and the token, then calls `then` with both: in the
	 * same turn when neither is a promise (so code that mocks `WebSocket` sees the socket right after
	 * `connect()`), else once both resolved. What throws or rejects, `then` included, is reported
	 * (`connect`) and, unless `refresh`, a failed attempt (1006). Nothing is called once the client
	 * moved on to another phase meanwhile.
	 */
	#ask(refresh: boolean, then: (answers: unknown[]) => void): void {
		const entered = this.#entered;
		const fail = (error: unknown) => {
			this.#error('connect', String(error), error);
			if (!refresh) this.#closed(ABNORMAL_CLOSURE, '');
		};
		const current =
			<T>(step: (value: T) => void) =>
			(value: T) =>
				entered == this.#entered && step(value);
		try {
			const parts = [
				refresh || (typeof this.#url == 'function' ? this.#url() : this.#url),
				this.#options.auth?.({
					attempt: this.#attempt,
					expired: !refresh && this.#lastCloseCode == INVALID_TOKEN,
					refresh
				})
			];
			if (parts.some((part) => part instanceof Promise)) {
				Promise.all(parts).then(current(then)).catch(current(fail));
			} else then(parts);
		} catch (error) {
			fail(error);
		}
	}

	#schedule(immediately: boolean): void {
		this.#enter(WAITING);
		const delay = immediately
			? 0
			: reconnectDelay(
					this.#attempt,
					this.#options.reconnectDelay,
					this.#options.maxReconnectDelay
				);
		this.#attempt++;
		this.#timer = setTimeout(() => this.#open(), delay);
		this.#emit(ReconnectAttempt, { attempt: this.#attempt, delay });
	}

	#watchEnvironment(): () => void {
		return watchEnvironment(
			this.#options.window,
			this.#options.document,
			{
				pause: (close) => {
					if (close && this.#phase > WAITING) this.#closed(GOING_AWAY, 'Paused');
					else if (this.#phase == WAITING) this.#enter(PAUSED);
					else this.#publish();
				},
				resume: () => {
					if (this.#phase == PAUSED || this.#phase == WAITING) this.#schedule(true);
				},
				check: () => {
					// Another blocker may remain, so the reason may have changed.
					this.#publish();
					if (this.#phase == OPEN) this.#heartbeat.check();
				}
			},
			this.#blockers
		);
	}

	// Rooms and their positions: which rooms are joined (reference-counted), where each stream
	// stands, and the rejoins `Connected` waits for.

	/**
	 * The server answered a join of `room`: `room.joined`, or an error naming the room (or the client
	 * stopped waiting: it left, or the rejoin deadline passed). False when no join of it was awaiting
	 * an answer.
	 */
	#answered(room: unknown, recovered: unknown): boolean {
		if (this.#awaited.delete(room as string)) {
			if (recovered === false) this.#recovered = false;
			this.#announce();
		}
		return this.#joining.delete(room as string);
	}

	/** Announces the connection once no rejoin awaits the server's answer any more. */
	#announce(): void {
		if (this.#phase != OPEN || this.#awaited.size) return;
		clearTimeout(this.#timer); // the rejoin deadline
		const reconnected = this.#hasConnected;
		this.#hasConnected = true;
		this.#emit(Connected, { reconnected, recovered: this.#recovered });
	}

	/** Drops what was seen already (at-least-once on the wire, once to handlers); true when new. */
	#advance({ room, offset, epoch }: InboundMessage): boolean {
		const entry = this.#rooms.get(room!);
		if (!entry || typeof offset != 'number') return true;
		const seen = entry.position;
		if (seen && seen.epoch == epoch && offset <= seen.offset) return false;
		entry.position = { offset, epoch: epoch! };
		return true;
	}

	/** A join's answer: where the room stands, and whether what was missed was replayed. */
	#joined(answer: Record<string, unknown>): void {
		const { room, offset, epoch, recovered } = answer;
		const entry = this.#rooms.get(room as string);
		if (!entry || typeof offset != 'number') return;
		// Replayed messages follow a recovered answer and advance the position themselves.
		if (recovered === false || !entry.position) {
			entry.position = { offset, epoch: epoch as string };
		}
		if (recovered === false) this.#emit(Unrecoverable, { room: room as string });
		this.#answered(room, recovered);
	}

	// Inbound: decode a frame, drop what was seen, answer requests, validate and notify handlers.

	#receive(frame: unknown): void {
		this.#heartbeat.alive();
		this.#reads?.read();
		let message: InboundMessage | null;
		try {
			if (typeof frame != 'string') throw new TypeError('binary frame');
			message = this.#dialect.decode(frame);
		} catch (error) {
			return this.#error('malformed', `Dropped a frame: ${(error as Error).message}`, frame);
		}
		if (!message || !this.#advance(message)) return;
		const { name, data, id } = message;
		const settle = this.#pending.get(id!);
		// Only runesocket's own protocol gives these names their meaning: other servers' may differ.
		const native = this.#dialect.decode == envelopeDialect.decode;
		if (name == ERROR_MESSAGE) {
			const reason =
				isRecord(data) && typeof data.message == 'string' ? data.message : 'Server error';
			// An answer to a join of the room it names; or, `forbidden` with no join awaiting an answer,
			// the server took the room away (a refreshed token or a role change no longer allows it):
			// the room is dropped, never rejoined.
			if (
				isRecord(data) &&
				!this.#answered(data.room, false) &&
				native &&
				data.code == 'forbidden'
			) {
				this.#rooms.delete(data.room as string);
			}
			if (settle) return settle(new SocketError('server', reason, data));
			return this.#error('server', reason, data);
		}
		// The server asked for a fresh token: the getter's goes out on this connection, the frame the
		// first token went in. A getter that throws, rejects or gives no token is reported (`connect`,
		// as at connection time); the server then closes at expiry (4001) and the client reconnects
		// with `expired: true`, as after any refused token. Nothing is sent once this connection
		// ended (#ask): the next asked for its own.
		if (name == AUTH_REFRESH_MESSAGE && native) {
			this.#ask(true, ([, token]) => {
				if (token == null) throw 'No token to refresh';
				this.#socket!.send(this.#dialect.auth!(token as string));
			});
		}
		if (name == REPLY_MESSAGE && settle) return settle(null, data);
		if (name == JOINED_MESSAGE && isRecord(data)) this.#joined(data);
		this.#emit(MessageReceived, message);
		this.#emit(message, data, message);
	}

	#error(kind: SocketErrorKind, message: string, detail?: unknown): void {
		const error = new SocketError(kind, message, detail);
		// ErrorRaised's symbol is its own, and its entry goes with its last handler: any entry is a handler.
		if (this.#listeners.get(ErrorRaised.name)?.size) this.#emit(ErrorRaised, error);
		else console.warn('[runesocket]', error);
	}

	/**
	 * Calls the handlers of a lifecycle event, or of an inbound `message`'s definitions: validates once
	 * per definition, then calls its handlers; async schemas resolve first. Keyed messages are handed
	 * on like any other: a client alone has no frame for them to wait for (a LiveSocket skips the
	 * superseded ones at its flush).
	 */
	#emit<Payload>(
		event: { readonly name: string | symbol; readonly payload?: Payload },
		data: Payload,
		message?: InboundMessage
	): void {
		for (const [definition, handlers] of this.#listeners.get(event.name) ?? []) {
			const call = (result: StandardResult<unknown>) => {
				// A message that waited on an async schema can outlive the client: once disposed, the app
				// is done with it, and its handlers (and its errors) must not hear from it again.
				if (this.#disposed) return;
				if (result.issues) return this.reportInvalid(message, result.issues);
				for (const handler of handlers) {
					// A handler before this one may have disposed the client.
					if (this.#disposed) return;
					try {
						if (message) handler(result.value, message);
						else handler(result.value);
					} catch (error) {
						// One failing handler must not starve the others, nor vanish: report it like an uncaught
						// error where the platform can (browsers); a rethrow on a timer would end a Node process.
						(globalThis.reportError ?? console.error)(error);
					}
				}
			};
			// A schema is app code: one that throws, rejects or answers nonsense refuses the data.
			const fail = (error: unknown) => call({ issues: [{ message: String(error) }] });
			try {
				const result = validateMessage(definition, data);
				// Handlers see messages in arrival order, however long each one's schema takes.
				if (result instanceof Promise || (message && this.#backlog)) {
					this.#backlog++;
					this.#queue = this.#queue
						.then(() => result)
						.then(call)
						.catch(fail)
						.finally(() => this.#backlog--);
				} else call(result);
			} catch (error) {
				fail(error);
			}
		}
	}

	// Outbound: send now when open, else buffer (bounded in count and age) until the next open.

	/** Sends now if connected; otherwise nothing, because the caller's state is replayed on connect. */
	#sendNow(frame: string): void {
		if (this.#phase == OPEN) this.#socket!.send(frame);
	}

	#transmit(frame: string, buffer: boolean): void {
		if (this.#phase == OPEN && this.#socket!.readyState == 1) return this.#socket!.send(frame);
		if (!buffer) throw new SocketError('closed', 'Not connected');
		// Past the bound, the oldest frame goes: a long outage must not grow memory without limit.
		if (this.#buffer.push([frame, Date.now()]) > this.#options.maxBufferSize) {
			this.#error('overflow', 'Buffer full', this.#buffer.shift()![0]);
		}
	}
}
