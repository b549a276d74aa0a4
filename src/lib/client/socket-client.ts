import {
	ABNORMAL_CLOSURE,
	GOING_AWAY,
	INVALID_TOKEN,
	NORMAL_CLOSURE,
	POLICY_VIOLATION
} from '../protocol/close-codes.js';
import {
	envelopeDialect,
	ERROR_MESSAGE,
	isRecord,
	JOINED_MESSAGE,
	REPLY_MESSAGE,
	type Dialect,
	type InboundMessage,
	type StreamPosition
} from '../protocol/envelope.js';
import { describeIssues, validateMessage, type MessageDefinition } from '../protocol/message.js';
import type { StandardResult, StandardSchema } from '../protocol/standard-schema.js';
import { reconnectDelay } from './backoff.js';
import { OutboundBuffer } from './buffer.js';
import { watchEnvironment, type DocumentLike, type WindowLike } from './environment.js';
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
import { HeartbeatTimer } from './heartbeat.js';
import { RoomRegistry } from './rooms.js';

/** A handler type whose parameter is checked bivariantly, so DOM and `ws` sockets both fit. */
type EventHandler<Event> = { bivarianceHack(event: Event): void }['bivarianceHack'];

/**
 * The part of a WebSocket the client uses: the browser's `WebSocket` and the `ws` package's both fit.
 *
 * @example
 * ```ts
 * import WebSocket from 'ws';
 * const socket: WebSocketLike = new WebSocket('ws://127.0.0.1:3000/ws');
 * ```
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
 *
 * @example
 * ```ts
 * import WebSocket from 'ws';
 * new SocketClient('ws://127.0.0.1:3000/ws', { WebSocket });
 * ```
 */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/**
 * Where to connect: a URL, or a function (sync or async) asked before every connection attempt.
 *
 * @example
 * ```ts
 * const url: UrlSource = async () => `wss://${await pickRegion()}.example.com/ws`;
 * ```
 */
export type UrlSource = string | URL | (() => string | URL | Promise<string | URL>);

/**
 * What a token getter learns about the connection it is asked for: the attempt number (0 for a
 * first connection) and whether the server just refused the previous token as invalid (4001).
 *
 * @example
 * ```ts
 * const auth = ({ expired }: AuthContext) => (expired ? refreshToken() : currentToken());
 * ```
 */
export interface AuthContext {
	readonly attempt: number;
	readonly expired: boolean;
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
	/** Smallest backoff window in ms (full jitter: the delay is random below the window). Default 500. */
	reconnectDelay?: number;
	/** Largest backoff window in ms. Default 20 000. */
	maxReconnectDelay?: number;
	/** Give up (and emit `ReconnectFailed`) after this many attempts in a row. Default `Infinity`. */
	maxReconnectAttempts?: number;
	/** Abandon a connection attempt that has not opened after this many ms. Default 5 000. */
	connectionTimeout?: number;
	/** Ping every this many ms while connected; 0 turns the heartbeat off. Default 25 000. */
	heartbeatInterval?: number;
	/** Close and reconnect when nothing arrives this many ms after a ping. Default 5 000. */
	heartbeatTimeout?: number;
	/** Token getter, called before every connection; its token is the connection's first frame. */
	auth?: (context: AuthContext) => string | null | undefined | Promise<string | null | undefined>;
	/** Close codes that stop reconnection, besides 1008 which always does. Default none. */
	stopCloseCodes?: readonly number[];
	/** Most messages kept while disconnected; the oldest is dropped (and reported) past it. Default 100. */
	maxBufferSize?: number;
	/** Buffered messages older than this many ms are dropped (and reported) instead of sent. Default 30 000. */
	maxBufferAge?: number;
	/** Default `request()` timeout in ms. Default 10 000. */
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
 *
 * @example
 * ```ts
 * client.emit(Typing, { user: 'ada' }, { buffer: false });
 * ```
 */
export interface SendOptions {
	/** Queue the message while disconnected (default), or throw `Not connected` when `false`. */
	buffer?: boolean;
}

/**
 * Options of a single request.
 *
 * @example
 * ```ts
 * await client.request(CreateIncident, { title: 'DB down' }, { timeout: 3_000 });
 * ```
 */
export interface RequestOptions {
	/** Reject when no reply came within this many ms. Default: the client's `requestTimeout`. */
	timeout?: number;
}

const DEFAULTS = {
	reconnect: true,
	reconnectDelay: 500,
	maxReconnectDelay: 20_000,
	maxReconnectAttempts: Infinity,
	connectionTimeout: 5_000,
	heartbeatInterval: 25_000,
	heartbeatTimeout: 5_000,
	maxBufferSize: 100,
	maxBufferAge: 30_000,
	requestTimeout: 10_000
};

/** A connection must stay up this long before the backoff starts from the bottom again. */
const STABLE_CONNECTION_MS = 5_000;

type Handler = (data: unknown, message?: InboundMessage) => void;
type Subscribable = { readonly name: string | symbol; readonly schema: StandardSchema | undefined };
type Settle = (error: SocketError | null, reply?: unknown) => void;

const noop = () => {};

/** `globalThis.reportError` where it exists (browsers, Node 22); a rethrow on a clean stack elsewhere. */
function reportError(error: unknown): void {
	const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
	if (report) report(error);
	else
		setTimeout(() => {
			throw error;
		});
}

function detach(socket: WebSocketLike): void {
	socket.onopen = socket.onmessage = socket.onclose = null;
	// `ws` throws an unhandled 'error' when a connecting socket is closed with no listener.
	socket.onerror = noop;
}

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
	#WebSocket: WebSocketConstructor | undefined;
	#socket: WebSocketLike | null = null;
	#state: ConnectionState = 'disconnected';
	/** `connect()` was called and `disconnect()` was not since: the client keeps trying. */
	#wanted = false;
	/** Offline, hidden or in the back/forward cache: reconnecting waits for `resume`. */
	#paused = false;
	/** Offline or in the back/forward cache: not even a first connection is worth trying. */
	#unreachable = false;
	/** Bumped by every open and by `disconnect()`, so an open still awaiting its URL or token gives up. */
	#generation = 0;
	#attempt = 0;
	#hasConnected = false;
	#openedAt = 0;
	#lastCloseCode = 0;
	#connectTimer: ReturnType<typeof setTimeout> | undefined;
	#reconnectTimer: ReturnType<typeof setTimeout> | undefined;
	#nextRequestId = 0;
	#pending = new Map<number, Settle>();
	#listeners = new Map<string | symbol, Map<Subscribable, Set<Handler>>>();
	#rooms = new RoomRegistry();
	/** Per room, the last message seen: rejoins ask for what followed, duplicates are dropped. */
	#positions = new Map<string, StreamPosition>();
	/** Rooms rejoined from a position whose answer has not come yet; Connected waits for them. */
	#unanswered = new Set<string>();
	#recovered = true;
	#buffer: OutboundBuffer;
	#heartbeat: HeartbeatTimer;
	#stopWatching: (() => void) | undefined;
	#disposed = false;

	constructor(url: UrlSource, options: SocketClientOptions = {}) {
		if (typeof url != 'string' && typeof url != 'function' && !(url instanceof URL)) {
			throw new TypeError(`Bad url: ${String(url)}`);
		}
		this.#url = url;
		this.#options = { ...DEFAULTS, ...options };
		for (const key of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) {
			const value = this.#options[key];
			if (key != 'reconnect' && !((value as number) >= 0)) {
				throw new TypeError(`${key} must be >= 0`);
			}
		}
		this.#dialect = options.protocol ?? envelopeDialect;
		this.#WebSocket = options.WebSocket;
		this.#buffer = new OutboundBuffer(this.#options.maxBufferSize, this.#options.maxBufferAge);
		this.#heartbeat = new HeartbeatTimer(
			this.#options.heartbeatInterval,
			this.#options.heartbeatTimeout,
			() => this.#socket?.send(this.#dialect.ping),
			() => {
				this.#error('heartbeat', 'Heartbeat timeout');
				this.#drop(ABNORMAL_CLOSURE, 'Heartbeat timeout');
			}
		);
	}

	/** The current state. */
	get connectionState(): ConnectionState {
		return this.#state;
	}

	/** Whether messages go out now rather than into the buffer. */
	get isConnected(): boolean {
		return this.#state == 'connected';
	}

	/** Rooms this client is in (rejoined after every reconnect). */
	get joinedRooms(): ReadonlySet<string> {
		return this.#rooms.rooms;
	}

	/** The underlying WebSocket while one exists, for what the client does not wrap (e.g. `bufferedAmount`). */
	get socket(): WebSocketLike | null {
		return this.#socket;
	}

	/** Starts connecting and keeps the connection up. Calling it again while it does is a no-op. */
	connect(): void {
		if (this.#disposed) throw new Error('SocketClient disposed');
		this.#WebSocket ??= (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
		if (!this.#WebSocket) {
			throw new TypeError('No WebSocket: pass the WebSocket option');
		}
		this.#stopWatching ??= this.#watchEnvironment();
		if (this.#wanted) return;
		this.#wanted = true;
		this.#attempt = 0;
		if (!this.#unreachable) void this.#open();
	}

	/** Closes the connection (1000), stops reconnecting until the next `connect()`, and clears the buffer. */
	disconnect(): void {
		this.#wanted = false;
		this.#generation++;
		this.#attempt = 0;
		clearTimeout(this.#reconnectTimer);
		this.#reconnectTimer = undefined;
		this.#buffer.clear();
		if (this.#socket) this.#drop(NORMAL_CLOSURE, 'Client disconnected');
		else this.#setState('disconnected');
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
	 * `ReconnectFailed`) or to a message definition; returns the unsubscribe function.
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
		let byDefinition = this.#listeners.get(target.name);
		if (!byDefinition) this.#listeners.set(target.name, (byDefinition = new Map()));
		let handlers = byDefinition.get(target);
		if (!handlers) byDefinition.set(target, (handlers = new Set()));
		handlers.add(handler as Handler);
		return () => handlers.delete(handler as Handler);
	}

	/** Calls `handler` with every new state. */
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
			const timeout = options?.timeout ?? this.#options.requestTimeout;
			this.#transmit(this.#dialect.encode({ name: definition.name, data, id }), false);
			const timer = setTimeout(
				() =>
					settle(new SocketError('timeout', `No reply to "${definition.name}" in ${timeout} ms`)),
				timeout
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
		if (since) this.#positions.set(room, since);
		if (this.#rooms.add(room)) {
			// A first join starts from `since` alone: a position left by a message still on its way
			// when the room was last left is not where the app asked to start.
			if (!since) this.#positions.delete(room);
			this.#sendNow(this.#dialect.join(room, since));
		}
		let joined = true;
		return () => {
			if (joined) this.leaveRoom(room);
			joined = false;
		};
	}

	/** Drops one hold on a room; the leave goes out when the last holder leaves. */
	leaveRoom(room: string): void {
		if (!this.#rooms.remove(room)) return;
		this.#positions.delete(room);
		this.#sendNow(this.#dialect.leave(room));
	}

	/** Forgets every room without sending leaves (e.g. the server dropped them at sign-out). */
	clearRooms(): void {
		this.#rooms.clear();
		this.#positions.clear();
	}

	async #open(): Promise<void> {
		const generation = ++this.#generation;
		this.#setState(this.#hasConnected || this.#attempt ? 'reconnecting' : 'connecting');
		let token: string | null | undefined;
		let socket: WebSocketLike;
		try {
			const [url, authToken] = await Promise.all([
				typeof this.#url == 'function' ? this.#url() : this.#url,
				this.#options.auth?.({
					attempt: this.#attempt,
					expired: this.#lastCloseCode == INVALID_TOKEN
				})
			]);
			if (generation != this.#generation) return;
			token = authToken;
			socket = this.#socket = new this.#WebSocket!(String(url));
		} catch (error) {
			if (generation != this.#generation) return;
			this.#error('connect', String(error), error);
			return this.#closed(ABNORMAL_CLOSURE, '');
		}
		this.#connectTimer = setTimeout(() => {
			this.#error('timeout', 'Connection timeout');
			this.#drop(ABNORMAL_CLOSURE, 'Connection timeout');
		}, this.#options.connectionTimeout);
		socket.onopen = () => this.#opened(socket, token);
		socket.onmessage = (event) => this.#receive(event.data);
		socket.onclose = ({ code, reason }) => {
			if (this.#state != 'connected') {
				this.#error('connect', `Connection failed (${code} ${reason})`, { code, reason });
			}
			this.#closed(code, reason);
		};
		socket.onerror = noop;
	}

	/** Auth first, then every room, then the buffer: the order the server relies on. */
	#opened(socket: WebSocketLike, token: string | null | undefined): void {
		clearTimeout(this.#connectTimer);
		if (token != null && this.#dialect.auth) socket.send(this.#dialect.auth(token));
		this.#recovered = true;
		for (const room of this.#rooms.rooms) {
			const since = this.#positions.get(room);
			if (since) this.#unanswered.add(room);
			socket.send(this.#dialect.join(room, since));
		}
		const { frames, expired } = this.#buffer.drain(Date.now());
		if (expired) {
			this.#error('expired', `${expired} expired`);
		}
		for (const frame of frames) socket.send(frame);
		this.#openedAt = Date.now();
		this.#setState('connected');
		this.#heartbeat.start();
		if (!this.#unanswered.size) this.#announce();
	}

	#announce(): void {
		const reconnected = this.#hasConnected;
		this.#hasConnected = true;
		this.#emit(Connected, { reconnected, recovered: this.#recovered });
	}

	/** The server answered a rejoin: `room.joined`, or an error naming the room. */
	#answered(room: unknown, recovered: unknown): void {
		if (!this.#unanswered.delete(room as string)) return;
		if (recovered === false) this.#recovered = false;
		if (!this.#unanswered.size) this.#announce();
	}

	/** Drops what was seen already (at-least-once on the wire, once to handlers); true when new. */
	#advance({ room, offset, epoch }: InboundMessage): boolean {
		if (typeof room != 'string' || typeof offset != 'number') return true;
		const seen = this.#positions.get(room);
		if (seen && seen.epoch == epoch && offset <= seen.offset) return false;
		this.#positions.set(room, { offset, epoch: epoch! });
		return true;
	}

	/** A join's answer: where the room stands, and whether what was missed was replayed. */
	#joined(answer: Record<string, unknown>): void {
		const { room, offset, epoch, recovered } = answer;
		if (typeof room != 'string' || typeof offset != 'number') return;
		// Replayed messages follow a recovered answer and advance the position themselves.
		if (recovered === false || !this.#positions.has(room)) {
			this.#positions.set(room, { offset, epoch: epoch as string });
		}
		if (recovered === false) this.#emit(Unrecoverable, { room });
		this.#answered(room, recovered);
	}

	#receive(frame: unknown): void {
		this.#heartbeat.alive();
		let message: InboundMessage | null;
		try {
			if (typeof frame != 'string') throw new TypeError('binary frame');
			message = this.#dialect.decode(frame);
		} catch (error) {
			return this.#error('malformed', `Dropped a frame: ${(error as Error).message}`, frame);
		}
		if (!message || !this.#advance(message)) return;
		const { name, data, id } = message;
		const settle = id === undefined ? undefined : this.#pending.get(id);
		if (name == ERROR_MESSAGE) {
			const reason =
				isRecord(data) && typeof data.message == 'string' ? data.message : 'Server error';
			if (isRecord(data)) this.#answered(data.room, false);
			if (settle) return settle(new SocketError('server', reason, data));
			return this.#error('server', reason, data);
		}
		if (name == REPLY_MESSAGE && settle) return settle(null, data);
		if (name == JOINED_MESSAGE && isRecord(data)) this.#joined(data);
		this.#emit(MessageReceived, message);
		this.#deliver(name, data, message);
	}

	/** Closes the current socket without waiting for its close event (which may never come). */
	#drop(code: number, reason: string): void {
		const socket = this.#socket;
		if (!socket) return;
		detach(socket);
		socket.close(NORMAL_CLOSURE, reason);
		this.#closed(code, reason);
	}

	#closed(code: number, reason: string): void {
		const wasOpen = this.#state == 'connected';
		if (this.#socket) detach(this.#socket);
		this.#socket = null;
		this.#unanswered.clear();
		clearTimeout(this.#connectTimer);
		this.#heartbeat.stop();
		for (const settle of this.#pending.values()) {
			settle(new SocketError('closed', 'Closed', { code, reason }));
		}
		const refusedToken = code == INVALID_TOKEN && this.#lastCloseCode != code;
		this.#lastCloseCode = code;
		if (wasOpen && Date.now() - this.#openedAt >= STABLE_CONNECTION_MS) this.#attempt = 0;
		const stop = code == POLICY_VIOLATION || !!this.#options.stopCloseCodes?.includes(code);
		if (stop) {
			this.#error('closed', `Closed: ${code} ${reason}`, { code, reason });
		}
		const retry = this.#wanted && !stop && this.#options.reconnect;
		const willReconnect = retry && this.#attempt < this.#options.maxReconnectAttempts;
		this.#setState(willReconnect && !this.#paused ? 'reconnecting' : 'disconnected');
		if (wasOpen) this.#emit(Disconnected, { code, reason, willReconnect });
		if (willReconnect) return this.#scheduleReconnect(refusedToken);
		if (retry) this.#emit(ReconnectFailed, { attempts: this.#attempt });
		this.#wanted = false;
	}

	#scheduleReconnect(immediately: boolean): void {
		clearTimeout(this.#reconnectTimer);
		this.#reconnectTimer = undefined;
		if (this.#paused) return this.#setState('disconnected');
		const { reconnectDelay: minDelay, maxReconnectDelay } = this.#options;
		const delay = immediately ? 0 : reconnectDelay(this.#attempt, minDelay, maxReconnectDelay);
		this.#attempt++;
		this.#reconnectTimer = setTimeout(() => {
			this.#reconnectTimer = undefined;
			void this.#open();
		}, delay);
		// Announced after the timer exists, so a handler that calls disconnect() cancels it.
		this.#setState('reconnecting');
		this.#emit(ReconnectAttempt, { attempt: this.#attempt, delay });
	}

	#watchEnvironment(): () => void {
		const { window, document } = this.#options;
		const global = globalThis as { window?: WindowLike; document?: DocumentLike };
		return watchEnvironment(
			window === null ? undefined : (window ?? global.window),
			document === null ? undefined : (document ?? global.document),
			{
				pause: (close) => {
					this.#paused = true;
					this.#unreachable ||= close;
					if (close) this.#drop(GOING_AWAY, 'Paused');
					if (!this.#reconnectTimer) return;
					clearTimeout(this.#reconnectTimer);
					this.#reconnectTimer = undefined;
					this.#setState('disconnected');
				},
				resume: () => {
					this.#paused = this.#unreachable = false;
					if (this.#wanted && !this.#socket) this.#scheduleReconnect(true);
				},
				check: () => this.#state == 'connected' && this.#heartbeat.check()
			}
		);
	}

	/** Sends now if connected; otherwise nothing, because the caller's state is replayed on connect. */
	#sendNow(frame: string): void {
		if (this.#state == 'connected') this.#socket?.send(frame);
	}

	#transmit(frame: string, buffer: boolean): void {
		if (this.#state == 'connected' && this.#socket?.readyState == 1)
			return this.#socket.send(frame);
		if (!buffer) throw new SocketError('closed', 'Not connected');
		const dropped = this.#buffer.push(frame, Date.now());
		if (dropped !== undefined) {
			this.#error('overflow', 'Buffer full', dropped);
		}
	}

	#setState(state: ConnectionState): void {
		if (this.#state == state) return;
		this.#state = state;
		this.#emit(StateChanged, state);
	}

	#error(kind: SocketErrorKind, message: string, detail?: unknown): void {
		const error = new SocketError(kind, message, detail);
		if (this.#listeners.get(ErrorRaised.name)?.get(ErrorRaised)?.size)
			this.#emit(ErrorRaised, error);
		else console.warn('[runesocket]', error);
	}

	#emit<Payload>(event: ClientEvent<Payload>, payload: Payload): void {
		this.#deliver(event.name, payload);
	}

	/** Validates once per definition, then calls that definition's handlers; async schemas resolve first. */
	#deliver(name: string | symbol, data: unknown, message?: InboundMessage): void {
		for (const [definition, handlers] of this.#listeners.get(name) ?? []) {
			const call = (result: StandardResult<unknown>) => this.#call(handlers, result, message);
			// A schema is app code: one that throws, rejects or answers nonsense refuses the data.
			const fail = (error: unknown) => call({ issues: [{ message: String(error) }] });
			try {
				const result = validateMessage(definition, data);
				if (result instanceof Promise) result.then(call).catch(fail);
				else call(result);
			} catch (error) {
				fail(error);
			}
		}
	}

	#call(handlers: Set<Handler>, result: StandardResult<unknown>, message?: InboundMessage): void {
		if (result.issues) {
			const problem = describeIssues(result.issues);
			return this.#error('validation', `Invalid "${message?.name}": ${problem}`, {
				message,
				issues: result.issues
			});
		}
		for (const handler of handlers) {
			try {
				handler(result.value, message);
			} catch (error) {
				// One failing handler must not starve the others, nor vanish: report it like an uncaught error.
				reportError(error);
			}
		}
	}
}
