import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { TRY_AGAIN_LATER } from '../protocol/close-codes.js';
import { closeReason } from '../protocol/close-reason.js';
import {
	isRecord,
	ERROR_MESSAGE,
	READ_REPORT_PREFIX,
	REPLY_MESSAGE,
	serverMessage
} from '../protocol/envelope.js';
import { ErrorCode } from '../protocol/error-codes.js';
import type { StreamPosition } from '../protocol/envelope.js';
import type { MessageDefinition } from '../protocol/message.js';
import { CALLBACK_TIMEOUT_MS } from './callbacks.js';
import type { ServerMetrics } from './metrics/metrics.js';
import { Backlog } from './backlog.js';
import { PreparedMessage } from './transport/prepared-message.js';
import type { Transport } from './transport/transport.js';

/**
 * Options of `connection.broadcast`.
 */
export interface BroadcastOptions {
	/** Rooms to send to, across every server process. Default: every connection of this route on this process. */
	rooms?: readonly string[];
	/** Whether the sender receives it too. Default `false`. */
	includeSelf?: boolean;
}

/**
 * A connection's route as the connection and the server's core reach it (`Route` is one): its
 * limits, the server's tallies, its connections, and its `onError`. Declared here rather than
 * imported: `Route` keeps its `Connection`s, and its options name `Connection` in every callback,
 * so importing it would close an import cycle.
 */
export interface ConnectionRoute {
	/** The options it was made from: its path names it in the metrics. */
	readonly options: { readonly path: string };
	readonly maxBufferedBytes: number;
	readonly metrics: ServerMetrics;
	/** Every connection of the route on this process: a broadcast without rooms goes to them. */
	readonly connections: ReadonlySet<Connection<unknown>>;
	/** Hands a failure to the route's `onError` (as an Error), or logs it when there is none. */
	report(connection: Connection<unknown>, failure: unknown): void;
	/** The user `authData` names, by the route's `userId`. */
	userIdOf(connection: Connection<unknown>, authData: unknown): string | undefined;
}

/**
 * The one owner of every connection's rooms (`Memberships`): joining and leaving change the
 * connection's room set, the room's engine subscription and its presence together.
 */
export interface ConnectionMemberships {
	join(connection: Connection<unknown>, room: string): void;
	leave(connection: Connection<unknown>, room: string): void;
}

/** Where a connection's broadcast goes out (`Publisher`). */
export interface Broadcaster {
	broadcast(
		connection: Connection<unknown>,
		message: unknown,
		options: BroadcastOptions
	): Promise<void>;
}

/** A live room message that arrived while the room's history was being replayed to this connection. */
interface BufferedDelivery {
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
export function isSendableCloseCode(code: unknown): code is number {
	if (typeof code != 'number' || !Number.isInteger(code)) return false;
	const standard = code >= 1000 && code <= 1014 && (code < 1004 || code > 1006);
	return standard || (code >= 3000 && code <= 4999);
}

/** The id of a `reply` or `error` an application wrote itself (`connection.send`), if it is one. */
function answeredRequestId(message: unknown): number | undefined {
	if (!isRecord(message) || typeof message.id != 'number') return undefined;
	const { name } = message;
	return name == REPLY_MESSAGE || name == ERROR_MESSAGE ? message.id : undefined;
}

/** The `params` of every connection whose route path captures nothing: one object, not one each. */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

/** A read report: the prefix, then a count of frames (15 digits stay below 2^53). */
const READ_REPORT = /^4:\d{1,15}$/;

/** How long a connection closed as too slow may keep its socket before it is destroyed. */
const SLOW_CONSUMER_GRACE_MS = 1_000;

/**
 * How long a peer has to answer our close frame before its socket is destroyed. `ws` would wait 30 s,
 * and a peer that never answers would keep its socket (and, before auth, its pending slot) that long.
 */
export const CLOSE_HANDSHAKE_TIMEOUT_MS = 3_000;

/**
 * One client connection on the server: who it is (`id`, `authData`, `req`), which rooms it is in,
 * and how to talk to it. Every send goes through a per-connection backlog written once per event-loop
 * turn; a connection whose backlog grows past `maxBufferedBytes` is closed with 1013. A close the
 * server decides while requests handed to application handlers are unanswered waits for their
 * answers (at most 5 s, by when each has one) and sends them before the close frame. Once the close
 * frame is sent, a peer that does not finish the close handshake within 3 s is dropped.
 *
 * @example
 * ```ts
 * const route: RouteOptions<User> = {
 * 	path: '/ws',
 * 	onConnect(connection) {
 * 		connection.joinRoom(`user:${connection.authData.id}`);
 * 		connection.emit(Welcome, { name: connection.authData.name });
 * 	}
 * };
 * ```
 */
export class Connection<AuthData = unknown> {
	/** A random id, sent to the client in its `connected` message. */
	readonly id: string = randomUUID();
	/** The HTTP upgrade request. */
	readonly req: IncomingMessage;
	/** Parameters captured by the route path (`/ws/:project` → `{ project }`). */
	readonly params: Readonly<Record<string, string>>;
	/** @internal The route it came by. */
	readonly route: ConnectionRoute;
	/** @internal The rooms it is in: changed by `Memberships` only. */
	readonly rooms = new Set<string>();
	#authData: AuthData | undefined;
	#userId: string | undefined;
	#authenticated = false;
	#transport: Transport;
	#backlog: Backlog;
	#memberships: ConnectionMemberships;
	#broadcaster: Broadcaster;
	/**
	 * Rooms whose history is being replayed: their live messages are buffered here, in order. Made by
	 * the first replay and dropped when none is left: an idle connection should not carry an empty Map.
	 */
	#buffered: Map<string, BufferedDelivery[]> | undefined;
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
		transport: Transport,
		req: IncomingMessage,
		params: Record<string, string>,
		route: ConnectionRoute,
		memberships: ConnectionMemberships,
		broadcaster: Broadcaster
	) {
		this.#transport = transport;
		this.req = req;
		this.params = Object.keys(params).length ? params : NO_PARAMS;
		this.route = route;
		this.#memberships = memberships;
		this.#broadcaster = broadcaster;
		this.#backlog = new Backlog(transport, route.metrics, route.options.path);
	}

	/**
	 * Resolves when the socket has closed. Made when first asked for: a promise with its resolver and
	 * close listener cost every connection about half a kilobyte, and few are ever awaited.
	 */
	get closed(): Promise<void> {
		this.#closed ??= this.#transport.isClosed
			? Promise.resolve()
			: new Promise((resolve) => this.#transport.onceClosed(resolve));
		return this.#closed;
	}

	/** The user data its authentication produced (`undefined` on routes without authentication). */
	get authData(): AuthData {
		return this.#authData as AuthData;
	}

	/**
	 * The user it is (the route's `userId`, default `authData.id`): what `disconnectUser`,
	 * `reauthorizeUser` and `maxConnectionsPerUser` go by. `undefined` when `authData` names none.
	 */
	get userId(): string | undefined {
		return this.#userId;
	}

	/** Whether it passed authentication (always true after `onConnect`). */
	get authenticated(): boolean {
		return this.#authenticated;
	}

	/** The rooms it is in (named as on the client). */
	get joinedRooms(): ReadonlySet<string> {
		return this.rooms;
	}

	/** Whether the socket is open: false as soon as a close is decided, by either end. */
	get isOpen(): boolean {
		return this.#transport.isOpen && !this.#deferredClose;
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
		return this.#backlog.bufferedBytes;
	}

	/** @internal Marks the connection authenticated with `authData` (again, after a refresh). */
	authenticate(authData: AuthData): void {
		this.#authData = authData;
		this.#userId = this.route.userIdOf(this as Connection<unknown>, authData);
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
		if (id !== undefined && this.#settle(id)) return this.#sendAnswer(prepared);
		return this.sendPrepared(prepared);
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
		return this.#settle(id) && this.#sendAnswer(message);
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
	#sendAnswer(message: PreparedMessage): boolean {
		const deferred = this.#deferredClose;
		if (!deferred) return this.sendPrepared(message);
		const queued = this.#hasRoom();
		if (queued) this.#backlog.push(message);
		if (!this.#unanswered && this.#deferredClose) this.#sendClose(deferred.code, deferred.reason);
		return queued;
	}

	/** @internal Answers with an `error` message; `details` (e.g. the room) go beside code and message. */
	fail(code: string, message: string, id?: number, details?: Record<string, unknown>): boolean {
		return this.sendReserved(ERROR_MESSAGE, { ...details, code, message }, id);
	}

	/** @internal Hands on a message the engine delivered to `room`, or buffers it while that room replays. */
	deliverToRoom(room: string, message: PreparedMessage, position?: StreamPosition): void {
		const buffered = this.#buffered?.get(room);
		if (buffered) buffered.push({ message, position });
		else this.sendPrepared(message);
	}

	/** @internal Buffers `room`'s live messages until `endReplay`: its history is about to be replayed. */
	startReplay(room: string): void {
		(this.#buffered ??= new Map()).set(room, []);
	}

	/**
	 * @internal Ends a replay: sends what was buffered, except what the replay already covered (up to
	 * `replayedUpTo` in the same epoch), so nothing arrives twice and nothing is skipped.
	 */
	endReplay(room: string, replayedUpTo?: StreamPosition): void {
		const buffered = this.#buffered?.get(room) ?? [];
		this.cancelReplay(room);
		for (const { message, position } of buffered) {
			const covered =
				replayedUpTo &&
				position?.epoch == replayedUpTo.epoch &&
				position.offset <= replayedUpTo.offset;
			if (!covered) this.sendPrepared(message);
		}
	}

	/** @internal Drops what `room`'s replay buffered (the room was left). */
	cancelReplay(room: string): void {
		const buffered = this.#buffered;
		if (!buffered?.has(room)) return;
		// The last entry goes with its Map: deleting it first would have V8 shrink a table to drop.
		if (buffered.size == 1) this.#buffered = undefined;
		else buffered.delete(room);
	}

	/** @internal Queues a message prepared once for many connections. */
	sendPrepared(message: PreparedMessage): boolean {
		if (this.#deferredClose || !this.#hasRoom()) return false;
		this.#backlog.push(message);
		return true;
	}

	/**
	 * @internal Counts `count` messages of a room's stream that were not sent to it because a newer
	 * one with the same conflation key superseded them (a replay's).
	 */
	conflated(count: number): void {
		if (count) this.route.metrics.messagesConflated(this.route.options.path, count);
	}

	/**
	 * @internal A read report (`4:<n>`): the client has read `n` frames of this connection. Anything
	 * else after the prefix is malformed, and answered as a malformed frame is.
	 */
	reportRead(frame: string): void {
		if (!READ_REPORT.test(frame)) {
			return void this.fail(ErrorCode.Malformed, 'A read report is "4:" and a whole number');
		}
		this.#backlog.reportRead(Number(frame.slice(READ_REPORT_PREFIX.length)));
	}

	/** @internal Hands a failure to the route's `onError`, or logs it. */
	report(failure: unknown): void {
		this.route.report(this as Connection<unknown>, failure);
	}

	/** Sends to other connections: the given rooms (on every process) or this route's connections here. */
	broadcast(message: unknown, options: BroadcastOptions = {}): Promise<void> {
		return this.#broadcaster.broadcast(this as Connection<unknown>, message, options);
	}

	/** Joins `room` (no `authorizeJoin`, no replay): its messages come from now on. */
	joinRoom(room: string): void {
		this.#memberships.join(this as Connection<unknown>, room);
	}

	leaveRoom(room: string): void {
		this.#memberships.leave(this as Connection<unknown>, room);
	}

	/** Sends a WebSocket ping frame. */
	ping(data?: Buffer | string): void {
		if (this.isOpen) this.#transport.ping(data);
	}

	/** Sends a WebSocket pong frame. */
	pong(data?: Buffer | string): void {
		if (this.isOpen) this.#transport.pong(data);
	}

	/**
	 * Sends what is queued, then closes with `code` and `reason` (cut to the 123 bytes a close frame
	 * carries). While requests handed to application handlers are unanswered, the close frame waits
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
		const open = this.#transport.isOpen;
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
		this.#backlog.writeAll();
		this.#transport.close(code, reason);
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
		this.#transport.pause();
	}

	/** Drops the connection at once, without a close handshake. */
	terminate(): void {
		this.#cancelDeferredClose();
		this.#backlog.clear();
		this.#transport.terminate();
	}

	/**
	 * Whether one more message may be queued. A slow reader is judged by its backlog, never by the size
	 * of the message at hand: one big message must not close a room's readers whose buffers are empty.
	 */
	#hasRoom(): boolean {
		if (!this.#transport.isOpen) return false;
		const { maxBufferedBytes } = this.route;
		if (this.#backlog.bufferedBytes <= maxBufferedBytes) return true;
		// A burst within one turn, or what a read window held back that cannot be conflated, is not
		// yet a slow reader: hand it to the kernel, then judge again (by what it did not take).
		this.#backlog.writeAll();
		if (this.#backlog.bufferedBytes <= maxBufferedBytes) return true;
		this.#closeSlowConsumer();
		return false;
	}

	/** A client that does not read must not grow the server's memory: drop what waits and leave. */
	#closeSlowConsumer(): void {
		this.#cancelDeferredClose();
		this.#backlog.clear();
		this.#closeCodeDecided = TRY_AGAIN_LATER;
		this.route.metrics.slowConsumerCloses++;
		this.#transport.close(TRY_AGAIN_LATER, 'Slow consumer');
		this.#dropUnlessClosedWithin(SLOW_CONSUMER_GRACE_MS);
	}

	#dropUnlessClosedWithin(ms: number): void {
		if (this.#closeTimer || this.#transport.isClosed) return;
		const transport = this.#transport;
		const timer = setTimeout(() => transport.terminate(), ms);
		timer.unref();
		this.#closeTimer = timer;
		// Only a closing connection pays for this listener.
		transport.onceClosed(() => clearTimeout(timer));
	}
}

/** Serialises `message` once and queues it for every authenticated connection but `except`. */
export function sendToAll(
	members: Iterable<Connection<unknown>>,
	message: unknown,
	except?: string
): void {
	const prepared = new PreparedMessage(message);
	for (const member of members) {
		if (member.authenticated && member.id != except) member.sendPrepared(prepared);
	}
}
