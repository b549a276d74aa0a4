import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { WebSocket } from 'ws';
import { TRY_AGAIN_LATER } from '../protocol/close-codes.js';
import { closeReason } from '../protocol/close-reason.js';
import { isRecord, ERROR_MESSAGE, REPLY_MESSAGE, serverMessage } from '../protocol/envelope.js';
import type { StreamPosition } from '../protocol/envelope.js';
import type { MessageDefinition } from '../protocol/message.js';
import { CALLBACK_TIMEOUT_MS } from './session/callbacks.js';
import type { ServerMetrics } from './metrics/metrics.js';
import { Outbox, PreparedMessage } from './outbound.js';

/**
 * Options of `connection.broadcast`.
 *
 * @example
 * ```ts
 * connection.broadcast({ type: 'typing' }, { rooms: ['chat:1'], includeSelf: false });
 * ```
 */
export interface BroadcastOptions {
	/** Rooms to send to, across every server process. Default: every connection of this route on this process. */
	rooms?: readonly string[];
	/** Whether the sender receives it too. Default `false`. */
	includeSelf?: boolean;
}

/** What a connection needs from its server. */
export interface ConnectionHost {
	join(connection: Connection<unknown>, room: string): void;
	leave(connection: Connection<unknown>, room: string): void;
	broadcast(
		connection: Connection<unknown>,
		message: unknown,
		options: BroadcastOptions
	): Promise<void>;
}

/** Per-connection settings taken from its route, and the server's tallies it adds to. */
export interface ConnectionLimits {
	maxBufferedBytes: number;
	compressionThreshold: number;
	metrics: ServerMetrics;
}

/** A live room message that arrived while the room's history was being replayed to this connection. */
interface HeldDelivery {
	message: PreparedMessage;
	position: StreamPosition | undefined;
}

/** A close the server decided while requests were unanswered: sent once they are. */
interface DeferredClose {
	readonly code: number;
	readonly reason: string;
	readonly timer: ReturnType<typeof setTimeout>;
}

/** Whether `ws` may send `code` in a close frame (RFC 6455 §7.4: not 1004–1006 nor 1015). */
function isSendableCloseCode(code: number): boolean {
	const standard = code >= 1000 && code <= 1014 && (code < 1004 || code > 1006);
	return Number.isInteger(code) && (standard || (code >= 3000 && code <= 4999));
}

/** The id of a `reply` or `error` an application wrote itself (`connection.send`), if it is one. */
function answeredRequestId(message: unknown): number | undefined {
	if (!isRecord(message) || typeof message.id != 'number') return undefined;
	const { name } = message;
	return name == REPLY_MESSAGE || name == ERROR_MESSAGE ? message.id : undefined;
}

/** The `params` of every connection whose route path captures nothing: one object, not one each. */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** How long a connection closed as too slow may keep its socket before it is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1_000;

/**
 * How long a peer has to answer our close frame before its socket is destroyed. `ws` would wait 30 s,
 * and a peer that never answers would keep its socket (and, before auth, its pending slot) that long.
 */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 3_000;

/**
 * One client connection on the server: who it is (`id`, `authData`, `req`), which rooms it is in,
 * and how to talk to it. Every send goes through a per-connection outbox written once per event-loop
 * turn; a connection whose backlog grows past `maxBufferedBytes` is closed with 1013. A close the
 * server decides while requests handed to application handlers are unanswered waits for their
 * answers (at most 5 s, by when each has one) and sends them before the close frame. Once the close
 * frame is sent, a peer that does not finish the close handshake within 3 s is dropped.
 *
 * @example
 * ```ts
 * onConnect(connection) {
 * 	connection.joinRoom(`user:${connection.authData.id}`);
 * 	connection.emit(Welcome, { name: connection.authData.name });
 * }
 * ```
 */
export class Connection<AuthData = unknown> {
	/** A random id, sent to the client in its `connected` message. */
	readonly id: string = randomUUID();
	/** The HTTP upgrade request. */
	readonly req: IncomingMessage;
	/** Parameters captured by the route path (`/ws/:project` → `{ project }`). */
	readonly params: Readonly<Record<string, string>>;
	#authData: AuthData | undefined;
	#authenticated = false;
	#rooms = new Set<string>();
	#socket: WebSocket;
	#outbox: Outbox;
	#host: ConnectionHost;
	#limits: ConnectionLimits;
	/**
	 * Rooms whose history is being replayed: their live messages wait here, in order. Made by the
	 * first replay and dropped when none is left: an idle connection should not carry an empty Map.
	 */
	#held: Map<string, HeldDelivery[]> | undefined;
	/** Destroys the socket if the peer does not finish the close handshake in time; set once closing. */
	#closeTimer: ReturnType<typeof setTimeout> | undefined;
	/** What `closed` returns, made on first use (see there). */
	#closed: Promise<void> | undefined;
	/**
	 * Requests handed to application handlers and not answered yet: how many per id (a client may
	 * reuse one). Made by the first and dropped with the last: most connections have none open.
	 */
	#unanswered: Map<number, number> | undefined;
	/** The close decided while requests were unanswered, until it is sent. */
	#deferredClose: DeferredClose | undefined;
	/** The code the server closed (or decided to close) with, when it did so before the peer. */
	#closeCodeDecided: number | undefined;
	/** @internal Set by heartbeat pongs and any inbound frame; cleared by every heartbeat tick. */
	alive = true;

	constructor(
		socket: WebSocket,
		req: IncomingMessage,
		params: Record<string, string>,
		host: ConnectionHost,
		limits: ConnectionLimits
	) {
		this.#socket = socket;
		this.req = req;
		this.params = Object.keys(params).length ? params : NO_PARAMS;
		this.#host = host;
		this.#limits = limits;
		this.#outbox = new Outbox(socket, limits.compressionThreshold, limits.metrics);
	}

	/**
	 * Resolves when the socket has closed. Made when first asked for: a promise with its resolver and
	 * close listener cost every connection about half a kilobyte, and few are ever awaited.
	 */
	get closed(): Promise<void> {
		this.#closed ??=
			this.#socket.readyState == WebSocket.CLOSED
				? Promise.resolve()
				: new Promise((resolve) => this.#socket.once('close', () => resolve()));
		return this.#closed;
	}

	/** The user data its authentication produced (`undefined` on routes without authentication). */
	get authData(): AuthData {
		return this.#authData as AuthData;
	}

	/** Whether it passed authentication (always true after `onConnect`). */
	get authenticated(): boolean {
		return this.#authenticated;
	}

	/** The rooms it is in (named as on the client). */
	get joinedRooms(): ReadonlySet<string> {
		return this.#rooms;
	}

	/** Whether the socket is open: false as soon as a close is decided, by either end. */
	get isOpen(): boolean {
		return this.#socket.readyState == WebSocket.OPEN && !this.#deferredClose;
	}

	/**
	 * @internal The close code the server decided on, when it decided to close before the peer did:
	 * what the metrics count the close by, whatever code the peer answers with.
	 */
	get closeCodeDecided(): number | undefined {
		return this.#closeCodeDecided;
	}

	/** Outbound bytes not yet handed to the kernel. */
	get bufferedBytes(): number {
		return this.#outbox.bufferedBytes;
	}

	/** @internal Marks the connection authenticated with `authData`. */
	authenticate(authData: AuthData): void {
		this.#authData = authData;
		this.#authenticated = true;
	}

	/**
	 * Sends any JSON value (or a string as is). False when the connection is closed or too slow. A
	 * `reply` or `error` object carrying the id of a request still unanswered is that request's
	 * answer, as if its handler had replied.
	 */
	send(message: unknown): boolean {
		const prepared = new PreparedMessage(message);
		const id = this.#unanswered && answeredRequestId(message);
		if (id !== undefined && this.#settle(id)) return this.#deliverAnswer(prepared);
		return this.deliver(prepared);
	}

	/** Sends a typed runesocket message. */
	emit<Data>(definition: MessageDefinition<Data>, data: Data): boolean {
		return this.send(serverMessage(definition.name, data));
	}

	/** @internal Sends a protocol message (`connected`, `room.joined`, `reply`, `error`). */
	sendReserved(name: string, data: unknown, id?: number): boolean {
		return this.send(serverMessage(name, data, { id }));
	}

	/**
	 * @internal A request (a message with an `id`) was handed to application handlers: until it is
	 * answered (`answer`), a close the server decides waits for its answer.
	 */
	openRequest(id: number): void {
		const unanswered = (this.#unanswered ??= new Map());
		unanswered.set(id, (unanswered.get(id) ?? 0) + 1);
	}

	/**
	 * @internal Answers open request `id` with a `reply` or an `error`, also while a close waits for
	 * it. True when the answer was queued; false when the request was answered already (or the socket
	 * is gone). Throws, leaving the request open, when `data` cannot be serialised.
	 */
	answer(name: string, data: unknown, id: number): boolean {
		const message = new PreparedMessage(serverMessage(name, data, { id }));
		return this.#settle(id) && this.#deliverAnswer(message);
	}

	/** Marks one request of `id` answered; false when none was open. */
	#settle(id: number): boolean {
		const unanswered = this.#unanswered;
		const open = unanswered?.get(id);
		if (!unanswered || !open) return false;
		if (open > 1) unanswered.set(id, open - 1);
		else if (unanswered.size == 1) this.#unanswered = undefined;
		else unanswered.delete(id);
		return true;
	}

	/** Queues an answer; when it was the last one a deferred close waited for, the close follows it. */
	#deliverAnswer(message: PreparedMessage): boolean {
		const deferred = this.#deferredClose;
		if (!deferred) return this.deliver(message);
		const queued = this.#hasRoom();
		if (queued) this.#outbox.push(message);
		if (!this.#unanswered && this.#deferredClose) this.#sendClose(deferred.code, deferred.reason);
		return queued;
	}

	/** @internal Answers with an `error` message; `details` (e.g. the room) go beside code and message. */
	fail(code: string, message: string, id?: number, details?: Record<string, unknown>): boolean {
		return this.sendReserved(ERROR_MESSAGE, { ...details, code, message }, id);
	}

	/** @internal Delivers a message published to `room`, or holds it while that room replays. */
	deliverToRoom(room: string, message: PreparedMessage, position?: StreamPosition): void {
		const held = this.#held?.get(room);
		if (held) held.push({ message, position });
		else this.deliver(message);
	}

	/** @internal Holds `room`'s live messages until `releaseRoom`: its history is about to be replayed. */
	holdRoom(room: string): void {
		(this.#held ??= new Map()).set(room, []);
	}

	/**
	 * @internal Ends a replay: delivers what was held, except what the replay already covered (up to
	 * `replayedUpTo` in the same epoch), so nothing arrives twice and nothing is skipped.
	 */
	releaseRoom(room: string, replayedUpTo?: StreamPosition): void {
		const held = this.#held?.get(room) ?? [];
		this.#forgetHeld(room);
		for (const { message, position } of held) {
			const covered =
				replayedUpTo &&
				position?.epoch == replayedUpTo.epoch &&
				position.offset <= replayedUpTo.offset;
			if (!covered) this.deliver(message);
		}
	}

	/** @internal Queues a message prepared once for many connections. */
	deliver(message: PreparedMessage): boolean {
		if (this.#deferredClose || !this.#hasRoom()) return false;
		this.#outbox.push(message);
		return true;
	}

	#forgetHeld(room: string): void {
		const held = this.#held;
		if (!held?.has(room)) return;
		// The last entry goes with its Map: deleting it first would have V8 shrink a table to drop.
		if (held.size == 1) this.#held = undefined;
		else held.delete(room);
	}

	/** Sends to other connections: the given rooms (on every process) or this route's connections here. */
	broadcast(message: unknown, options: BroadcastOptions = {}): Promise<void> {
		return this.#host.broadcast(this as Connection<unknown>, message, options);
	}

	joinRoom(room: string): void {
		if (this.#rooms.has(room)) return;
		this.#rooms.add(room);
		this.#host.join(this as Connection<unknown>, room);
	}

	leaveRoom(room: string): void {
		this.#forgetHeld(room);
		if (!this.#rooms.delete(room)) return;
		this.#host.leave(this as Connection<unknown>, room);
	}

	/** @internal Leaves every room (the connection closed). */
	leaveAllRooms(): void {
		for (const room of this.#rooms) this.leaveRoom(room);
	}

	/** Sends a WebSocket ping frame. */
	ping(data?: Buffer | string): void {
		if (this.isOpen) this.#socket.ping(data);
	}

	/** Sends a WebSocket pong frame. */
	pong(data?: Buffer | string): void {
		if (this.isOpen) this.#socket.pong(data);
	}

	/**
	 * Sends what is queued, then closes with `code` and `reason` (cut to the 123 bytes a close frame
	 * holds). While requests handed to application handlers are unanswered, the close frame waits
	 * for their answers (at most 5 s) and follows them; nothing else is sent meanwhile, and `isOpen`
	 * is already false. The first close decided is the one sent. A peer that does not answer the
	 * close frame within 3 s is dropped. Throws a `TypeError` for a code no close frame may carry.
	 */
	close(code = 1000, reason = ''): void {
		if (!isSendableCloseCode(code)) {
			throw new TypeError(`connection.close: ${code} is not a close code a server may send`);
		}
		if (this.#deferredClose) return;
		const frameReason = closeReason(String(reason));
		const open = this.#socket.readyState == WebSocket.OPEN;
		if (open) this.#closeCodeDecided ??= code;
		if (!open || !this.#unanswered) return this.#sendClose(code, frameReason);
		// Every open request has its own deadline of the same length, set earlier: this one is a
		// backstop that keeps the rule whatever opened a request.
		const timer = setTimeout(() => this.#sendClose(code, frameReason), CALLBACK_TIMEOUT_MS);
		timer.unref();
		this.#deferredClose = { code, reason: frameReason, timer };
	}

	#sendClose(code: number, reason: string): void {
		this.#cancelDeferredClose();
		this.#outbox.flush();
		this.#socket.close(code, reason);
		this.#dropUnlessClosedWithin(CLOSE_HANDSHAKE_TIMEOUT_MS);
	}

	#cancelDeferredClose(): void {
		clearTimeout(this.#deferredClose?.timer);
		this.#deferredClose = undefined;
	}

	/**
	 * @internal Stops reading from the socket: for a peer that floods, whose answer to our close frame
	 * is not worth parsing the rest of its flood for. It is dropped when the close times out.
	 */
	stopReading(): void {
		this.#socket.pause();
	}

	/** Drops the connection at once, without a close handshake. */
	terminate(): void {
		this.#cancelDeferredClose();
		this.#outbox.clear();
		this.#socket.terminate();
	}

	/**
	 * Whether one more message may be queued. A slow reader is judged by its backlog, never by the size
	 * of the message at hand: one big message must not close a room's readers whose buffers are empty.
	 */
	#hasRoom(): boolean {
		if (this.#socket.readyState != WebSocket.OPEN) return false;
		if (this.#outbox.bufferedBytes <= this.#limits.maxBufferedBytes) return true;
		// A burst within one turn is not a slow reader: hand it to the kernel, then judge again.
		this.#outbox.flush();
		if (this.#outbox.bufferedBytes <= this.#limits.maxBufferedBytes) return true;
		this.#closeSlowConsumer();
		return false;
	}

	/** A client that does not read must not grow the server's memory: drop what waits and leave. */
	#closeSlowConsumer(): void {
		this.#cancelDeferredClose();
		this.#outbox.clear();
		this.#closeCodeDecided = TRY_AGAIN_LATER;
		this.#limits.metrics.slowConsumerCloses++;
		this.#socket.close(TRY_AGAIN_LATER, 'Slow consumer');
		this.#dropUnlessClosedWithin(SLOW_CONSUMER_GRACE_MS);
	}

	#dropUnlessClosedWithin(ms: number): void {
		if (this.#closeTimer || this.#socket.readyState == WebSocket.CLOSED) return;
		const timer = setTimeout(() => this.#socket.terminate(), ms);
		timer.unref();
		this.#closeTimer = timer;
		// Only a closing connection pays for this listener.
		this.#socket.once('close', () => clearTimeout(timer));
	}
}

/**
 * Serialises `message` once and queues it for every authenticated member but `except`.
 *
 * @example
 * ```ts
 * deliverToAll(route.connections, { name: 'maintenance', data: null, timestamp: Date.now() });
 * ```
 */
export function deliverToAll(
	members: Iterable<Connection<unknown>>,
	message: unknown,
	except?: string
): void {
	const prepared = new PreparedMessage(message);
	for (const member of members) {
		if (member.authenticated && member.id != except) member.deliver(prepared);
	}
}
