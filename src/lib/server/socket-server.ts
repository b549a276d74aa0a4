import { STATUS_CODES, type IncomingMessage, type Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import {
	AUTH_TIMEOUT,
	GOING_AWAY,
	INTERNAL_ERROR,
	INVALID_TOKEN,
	POLICY_VIOLATION,
	TOO_MANY_PENDING
} from '../protocol/close-codes.js';
import { isRecord, ReservedName } from '../protocol/envelope.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { describeIssues, validateMessage, type MessageDefinition } from '../protocol/message.js';
import { safeJsonParse } from '../protocol/safe-json.js';
import {
	Connection,
	deliverToAll,
	type BroadcastOptions,
	type ConnectionHost
} from './connection.js';
import { EVERYONE_ROOM, isStreamPosition, type Engine, type StreamPosition } from './engine.js';
import { MemoryEngine } from './memory-engine.js';
import { LocalRooms } from './local-rooms.js';
import { tokenFromFirstFrame } from './first-frame-token.js';
import { DEFAULT_MAX_CONNECTIONS, type AuthResult, type SocketServerOptions } from './options.js';
import { isOriginAllowed } from './origin.js';
import type { RateLimiter } from './rate-limiter.js';
import { Route } from './route.js';

/** The room every connection is in: what `publish` without a room reaches. Clients cannot join it. */
export const EVERYONE = EVERYONE_ROOM;

/** Longest room name a client may join. */
const MAX_ROOM_LENGTH = 256;

/** Frames a connection may send while its first-message token is being checked. */
const MAX_FRAMES_BEFORE_AUTH = 100;

/** How long `close()` waits for each client to finish the close handshake before dropping it. */
const CLOSE_GRACE_MS = 5_000;

/**
 * How a typed handler answers a request: call it with the reply data, or `reply.error(code, message)`.
 * For a message that is not a request (no `id`), answering does nothing.
 *
 * @example
 * ```ts
 * server.on(CreateIncident, async (connection, data, reply) => reply(await incidents.create(data)));
 * ```
 */
export interface Reply {
	(data?: unknown): void;
	error(code: string, message: string): void;
	/** Whether an answer was sent. */
	readonly sent: boolean;
}

/**
 * A typed message handler: the connection, the validated data, and `reply` for requests.
 *
 * @example
 * ```ts
 * const handler: MessageHandler<{ title: string }> = (connection, { title }, reply) => reply({ ok: true });
 * ```
 */
export type MessageHandler<Data> = (
	connection: Connection<unknown>,
	data: Data,
	reply: Reply
) => void | Promise<void>;

/**
 * Options of `publish`.
 *
 * @example
 * ```ts
 * await server.publish(IncidentCreated, incident, { room: 'account:42' });
 * ```
 */
export interface ServerPublishOptions {
	/** The room to publish to. Default: every connection. */
	room?: string;
}

interface Registered {
	definition: MessageDefinition<unknown>;
	handler: MessageHandler<unknown>;
}

/** Per-connection state the server keeps beside the public `Connection`. */
interface Session {
	route: Route;
	limiter: RateLimiter | undefined;
	/** Frames that arrived while the first-message token was being checked. */
	held: string[] | undefined;
	/** The next frame is the first-message token. */
	awaitingToken: boolean;
	/** Cancels the 4002 timer once the token has arrived. */
	stopAuthTimer: (() => void) | undefined;
	/** Frees this connection's pending-authentication slot and its timer; set while it holds one. */
	releaseAuthSlot: (() => void) | undefined;
}

/**
 * Writes a bare HTTP error response on a socket that asked to upgrade, then closes it.
 *
 * @example
 * ```ts
 * refuseUpgrade(socket, 401, 'Invalid session');
 * ```
 */
function refuseUpgrade(socket: Duplex, status: number, reason = STATUS_CODES[status] ?? ''): void {
	if (socket.writable) {
		socket.write(
			`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nConnection: close\r\n` +
				`Content-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`
		);
	}
	socket.destroy();
}

function refusalStatus(code: number | undefined): number {
	return code !== undefined && code >= 400 && code <= 599 ? code : 401;
}

/** A first-message refusal closes with the app's own 4xxx code (or 1011), else 4001 invalid token. */
function refusalCloseCode(code: number | undefined): number {
	if (code == INTERNAL_ERROR || (code !== undefined && code >= 4000 && code <= 4999)) return code;
	return INVALID_TOKEN;
}

function errorFrom(value: unknown): Error {
	return value instanceof Error ? value : new Error(String(value));
}

/**
 * The server end of runesocket, on `ws`: routes by path, authentication at upgrade or by first
 * message, rooms (through an `Engine`), typed handlers with replies, heartbeats and limits.
 * Create it with `createSocketServer`.
 *
 * @example
 * ```ts
 * const server = createSocketServer({ routes: [{ path: '/ws' }] });
 * server.attach(httpServer);
 * server.on(Chat, (connection, data) => connection.broadcast({ name: 'chat', data }, { rooms: ['lobby'] }));
 * await server.to('lobby').emit(Announcement, { text: 'Hello' });
 * ```
 */
export class SocketServer {
	#routes: Route[];
	#engine: Engine;
	#maxConnections: number;
	#upgrading = 0;
	#connections = new Set<Connection<unknown>>();
	#sessions = new WeakMap<Connection<unknown>, Session>();
	#rooms: LocalRooms;
	#handlers = new Map<string, Registered>();
	#listeners = new Map<
		HttpServer,
		(request: IncomingMessage, socket: Duplex, head: Buffer) => void
	>();
	#started: Promise<void>;
	#closing: Promise<void> | undefined;

	constructor(options: SocketServerOptions) {
		if (!Array.isArray(options?.routes) || options.routes.length == 0) {
			throw new TypeError(
				'createSocketServer needs at least one route: { routes: [{ path: "/ws" }] }'
			);
		}
		this.#routes = options.routes.map((route) => new Route(route));
		this.#engine = options.engine ?? new MemoryEngine();
		this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
		this.#started = Promise.resolve()
			.then(() =>
				this.#engine.start({
					deliver: (room, message, except) => this.#deliver(room, message, except),
					resync: () => this.#rooms.resync()
				})
			)
			.then(() => this.#engine.subscribe(EVERYONE));
		this.#started.catch((error) => this.#report(undefined, error));
		this.#rooms = new LocalRooms(this.#engine, this.#started, (error) =>
			this.#report(undefined, error)
		);
		for (const route of this.#routes) route.startTimers();
	}

	/** Every open connection on this process. */
	get connections(): ReadonlySet<Connection<unknown>> {
		return this.#connections;
	}

	/** Resolves once the engine is ready (rejects if it could not start). */
	ready(): Promise<void> {
		return this.#started;
	}

	/** Whether an upgrade request is for one of this server's routes. */
	matches(request: IncomingMessage): boolean {
		return this.#routes.some((route) => route.pattern.test(request.url ?? ''));
	}

	/**
	 * Listens to `httpServer`'s upgrade requests for this server's routes and leaves every other
	 * upgrade (e.g. Vite's HMR) to its other listeners.
	 */
	attach(httpServer: HttpServer): this {
		if (this.#listeners.has(httpServer)) return this;
		const listener = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
			if (this.matches(request)) void this.handleUpgrade(request, socket, head);
		};
		this.#listeners.set(httpServer, listener);
		httpServer.on('upgrade', listener);
		return this;
	}

	/**
	 * Takes over one upgrade request: checks origin, limits and authentication, then accepts or
	 * refuses it with an HTTP status. Never rejects: whatever goes wrong is answered and reported.
	 */
	async handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
		// A client that resets mid-handshake must not crash the process with an unhandled 'error'.
		const ignore = () => {};
		socket.on('error', ignore);
		try {
			await this.#upgrade(request, socket, head, () => socket.off('error', ignore));
		} catch (error) {
			this.#report(undefined, error);
			refuseUpgrade(socket, 500);
		}
	}

	async #upgrade(
		request: IncomingMessage,
		socket: Duplex,
		head: Buffer,
		handedOver: () => void
	): Promise<void> {
		const url = request.url ?? '';
		const route = this.#routes.find((candidate) => candidate.pattern.test(url));
		if (!route) return refuseUpgrade(socket, 404);
		let params: Record<string, string>;
		try {
			params = route.pattern.match(url) ?? {};
		} catch {
			return refuseUpgrade(socket, 400, 'Malformed path');
		}
		if (this.#closing) return refuseUpgrade(socket, 503, 'Server shutting down');
		if (!this.#originAllowed(route, request))
			return refuseUpgrade(socket, 403, 'Origin not allowed');
		if (this.#connections.size + this.#upgrading >= this.#maxConnections) {
			return refuseUpgrade(socket, 503, 'Too many connections');
		}
		this.#upgrading++;
		try {
			let authData: unknown;
			if (route.options.authenticate) {
				const result = await this.#authenticateUpgrade(route, request);
				if (!result.success)
					return refuseUpgrade(socket, refusalStatus(result.code), result.reason);
				authData = result.data;
			}
			if (socket.destroyed || this.#closing) return void socket.destroy();
			route.wss.handleUpgrade(request, socket, head, (ws) => {
				handedOver();
				this.#accept(route, ws, request, params, authData);
			});
		} finally {
			this.#upgrading--;
		}
	}

	#originAllowed(route: Route, request: IncomingMessage): boolean {
		try {
			return isOriginAllowed(request, route.options.origins ?? 'same-host');
		} catch (error) {
			this.#report(undefined, error);
			return false;
		}
	}

	/** Registers the handler for one message name; returns a function that removes it. */
	on<Data>(definition: MessageDefinition<Data>, handler: MessageHandler<Data>): () => void {
		if (typeof definition?.name != 'string' || typeof handler != 'function') {
			throw new TypeError('server.on() needs a message definition and a handler');
		}
		if (Object.values(ReservedName).includes(definition.name as never)) {
			throw new TypeError(`"${definition.name}" is reserved by the protocol`);
		}
		const registered = { definition, handler } as Registered;
		this.#handlers.set(definition.name, registered);
		return () => {
			if (this.#handlers.get(definition.name) == registered) this.#handlers.delete(definition.name);
		};
	}

	/**
	 * Publishes a typed message to a room, on every server process the engine reaches, or to every
	 * connection without a room. Rejects with a `TypeError` when the data fails the definition's
	 * schema, and with the engine's error when it cannot publish.
	 */
	async publish<Data>(
		definition: MessageDefinition<Data>,
		data: Data,
		options: ServerPublishOptions = {}
	): Promise<void> {
		const result = await validateMessage(definition, data);
		if (result.issues) {
			throw new TypeError(`Cannot publish "${definition.name}": ${describeIssues(result.issues)}`);
		}
		const { room } = options;
		if (room === EVERYONE) throw new TypeError('Publish without a room to reach everyone');
		await this.#started;
		await this.#engine.publish(room ?? EVERYONE, {
			name: definition.name,
			data,
			timestamp: Date.now(),
			room
		});
	}

	/** `server.to(room).emit(def, data)`: the same as `publish(def, data, { room })`. */
	to(room: string): { emit<Data>(definition: MessageDefinition<Data>, data: Data): Promise<void> } {
		return { emit: (definition, data) => this.publish(definition, data, { room }) };
	}

	/**
	 * Stops accepting connections, closes every one with 1001 after what is queued for it was sent,
	 * waits for them to go (dropping any that take longer than 5 s), then closes the engine.
	 */
	close(): Promise<void> {
		this.#closing ??= this.#shutDown();
		return this.#closing;
	}

	/** Where `room`'s stream stands now: what a page loaded now should pass as `since` when it joins. */
	async position(room: string): Promise<StreamPosition> {
		await this.#started;
		return (await this.#engine.history(room)).position;
	}

	/** What connections ask of their server: room membership and broadcasts. */
	#host: ConnectionHost = {
		join: (connection, room) => this.#rooms.add(connection, room),
		leave: (connection, room) => this.#rooms.remove(connection, room),
		broadcast: (connection, message, options) => this.#broadcast(connection, message, options)
	};

	async #broadcast(
		connection: Connection<unknown>,
		message: unknown,
		{ rooms, includeSelf = false }: BroadcastOptions
	): Promise<void> {
		const except = includeSelf ? undefined : connection.id;
		if (rooms) {
			await Promise.all(rooms.map((room) => this.#engine.publish(room, message, { except })));
			return;
		}
		deliverToAll(this.#sessions.get(connection)?.route.connections ?? [], message, except);
	}

	async #authenticateUpgrade(route: Route, request: IncomingMessage): Promise<AuthResult<unknown>> {
		try {
			return await route.options.authenticate!(request);
		} catch (error) {
			this.#report(undefined, error);
			return { success: false, code: 500, reason: 'Authentication failed' };
		}
	}

	#accept(
		route: Route,
		ws: WebSocket,
		request: IncomingMessage,
		params: Record<string, string>,
		authData: unknown
	): void {
		const connection = new Connection<unknown>(ws, request, params, this.#host, {
			maxBufferedBytes: route.maxBufferedBytes,
			compressionThreshold: route.compressionThreshold
		});
		const session: Session = {
			route,
			limiter: route.rateLimiter(),
			held: undefined,
			awaitingToken: false,
			stopAuthTimer: undefined,
			releaseAuthSlot: undefined
		};
		this.#sessions.set(connection, session);
		this.#connections.add(connection);
		route.connections.add(connection);
		ws.on('error', (error) => this.#report(connection, error));
		ws.on('pong', () => (connection.alive = true));
		ws.on('close', (code, reason) => this.#closed(connection, code, reason.toString()));
		ws.on('message', (data, isBinary) => {
			connection.alive = true;
			if (isBinary) connection.fail(ErrorCode.Malformed, 'Binary frames are not supported');
			else this.#receive(connection, session, data.toString());
		});
		if (route.options.firstMessageAuth) this.#awaitToken(connection, session);
		else this.#ready(connection, session, authData);
	}

	#awaitToken(connection: Connection<unknown>, session: Session): void {
		const { route } = session;
		if (route.pendingAuth >= route.maxPendingAuth) {
			return connection.close(TOO_MANY_PENDING, 'Too many pending connections');
		}
		route.pendingAuth++;
		session.held = [];
		session.awaitingToken = true;
		const timer = setTimeout(
			() => connection.close(AUTH_TIMEOUT, 'Authentication timeout'),
			route.authTimeout
		);
		session.stopAuthTimer = () => clearTimeout(timer);
		session.releaseAuthSlot = () => {
			clearTimeout(timer);
			route.pendingAuth--;
			session.releaseAuthSlot = undefined;
		};
	}

	async #verifyToken(
		connection: Connection<unknown>,
		session: Session,
		frame: string
	): Promise<void> {
		session.awaitingToken = false;
		session.stopAuthTimer?.();
		// The token came in time (4002 is for a missing token); a check that hangs still must not hold
		// the connection and its pending slot forever.
		const verifyDeadline = setTimeout(
			() => connection.close(INTERNAL_ERROR, 'Authentication took too long'),
			session.route.authTimeout
		);
		const token = tokenFromFirstFrame(frame);
		let result: AuthResult<unknown>;
		try {
			result = token
				? await session.route.options.firstMessageAuth!.verify(token, connection.req)
				: { success: false, reason: 'Expected an auth message first' };
		} catch (error) {
			this.#report(connection, error);
			result = { success: false, code: INTERNAL_ERROR, reason: 'Authentication failed' };
		}
		clearTimeout(verifyDeadline);
		session.releaseAuthSlot?.();
		if (!connection.isOpen) return;
		if (!result.success) {
			return connection.close(refusalCloseCode(result.code), result.reason ?? 'Invalid token');
		}
		this.#ready(connection, session, result.data);
	}

	#ready(connection: Connection<unknown>, session: Session, authData: unknown): void {
		const { route } = session;
		connection.authenticate(authData);
		let shown: Record<string, unknown> | undefined;
		try {
			shown = route.options.connectedData?.(connection);
		} catch (error) {
			this.#report(connection, error);
			return connection.close(INTERNAL_ERROR, 'Could not prepare the connection');
		}
		connection.sendReserved(ReservedName.Connected, { ...shown, id: connection.id });
		this.#run(connection, () => route.options.onConnect?.(connection));
		const held = session.held ?? [];
		session.held = undefined;
		for (const frame of held) this.#dispatch(connection, session, frame);
	}

	#receive(connection: Connection<unknown>, session: Session, frame: string): void {
		if (connection.authenticated) return this.#dispatch(connection, session, frame);
		if (session.awaitingToken) return void this.#verifyToken(connection, session, frame);
		if (!session.held) return;
		if (session.held.length >= MAX_FRAMES_BEFORE_AUTH) {
			return connection.close(POLICY_VIOLATION, 'Too many messages before authentication');
		}
		session.held.push(frame);
	}

	#dispatch(connection: Connection<unknown>, session: Session, frame: string): void {
		if (frame == '2') return void connection.send('3');
		let message: unknown;
		try {
			message = safeJsonParse(frame);
		} catch {
			message = undefined;
		}
		if (isRecord(message) && message.type == 'ping' && message.name === undefined) {
			return void connection.send({ type: 'pong' });
		}
		// Heartbeats aside, every frame counts against the limit; parsed first so a refused request
		// still gets its answer under its id.
		const id = isRecord(message) && typeof message.id == 'number' ? message.id : undefined;
		const verdict = session.limiter?.take(Date.now()) ?? 'accept';
		if (verdict == 'close') return connection.close(POLICY_VIOLATION, 'Rate limit exceeded');
		if (verdict == 'refuse') {
			return void connection.fail(ErrorCode.RateLimited, 'Too many messages: slow down', id);
		}
		if (message === undefined) return void connection.fail(ErrorCode.Malformed, 'Malformed JSON');
		if (!isRecord(message) || typeof message.name != 'string') {
			return void connection.fail(ErrorCode.Malformed, 'Expected {"name": string, "data": …}', id);
		}
		const { name, data } = message;
		if (name == ReservedName.Auth) return;
		if (name == ReservedName.Join) return void this.#joinRequested(connection, session, data, id);
		if (name == ReservedName.Leave) return this.#leaveRequested(connection, data, id);
		const registered = this.#handlers.get(name);
		if (registered) return void this.#handle(connection, registered, data, id);
		const { onMessage } = session.route.options;
		if (onMessage) return this.#run(connection, () => onMessage(connection, { name, data, id }));
		connection.fail(ErrorCode.UnknownMessage, `Unknown message "${name}"`, id);
	}

	async #joinRequested(
		connection: Connection<unknown>,
		session: Session,
		data: unknown,
		id: number | undefined
	): Promise<void> {
		const room = isRecord(data) ? data.room : undefined;
		if (typeof room != 'string' || !room || room.length > MAX_ROOM_LENGTH || room == EVERYONE) {
			return void connection.fail(ErrorCode.Malformed, 'room.join needs {"room": string}', id);
		}
		const since = isRecord(data) && isStreamPosition(data.since) ? data.since : undefined;
		let allowed = true;
		try {
			allowed = (await session.route.options.authorizeJoin?.(connection, room)) ?? true;
		} catch (error) {
			this.#report(connection, error);
			allowed = false;
		}
		if (!connection.isOpen) return;
		if (!allowed) {
			return void connection.fail(ErrorCode.Forbidden, `Not allowed to join "${room}"`, id, {
				room
			});
		}
		await this.#rooms.join(connection, room, since, id);
	}

	#leaveRequested(connection: Connection<unknown>, data: unknown, id: number | undefined): void {
		const room = isRecord(data) ? data.room : undefined;
		if (typeof room != 'string') {
			return void connection.fail(ErrorCode.Malformed, 'room.leave needs {"room": string}', id);
		}
		connection.leaveRoom(room);
		if (id !== undefined) connection.sendReserved(ReservedName.Reply, { room }, id);
	}

	async #handle(
		connection: Connection<unknown>,
		{ definition, handler }: Registered,
		data: unknown,
		id: number | undefined
	): Promise<void> {
		const result = await validateMessage(definition, data);
		if (result.issues) {
			const problems = describeIssues(result.issues);
			return void connection.fail(
				ErrorCode.InvalidData,
				`Invalid "${definition.name}": ${problems}`,
				id
			);
		}
		const reply = this.#reply(connection, id);
		try {
			await handler(connection, result.value, reply);
		} catch (error) {
			this.#report(connection, error);
			if (!reply.sent) reply.error(ErrorCode.Internal, 'Internal error');
		}
	}

	#reply(connection: Connection<unknown>, id: number | undefined): Reply {
		let sent = false;
		const answer = (name: string, data: unknown) => {
			if (sent || id === undefined) return;
			sent = true;
			connection.sendReserved(name, data, id);
		};
		const reply = (data?: unknown) => answer(ReservedName.Reply, data ?? null);
		reply.error = (code: string, message: string) => answer(ReservedName.Error, { code, message });
		Object.defineProperty(reply, 'sent', { get: () => sent });
		return reply as Reply;
	}

	/** Runs an application callback; an exception or rejection goes to onError, never up. */
	#run(connection: Connection<unknown>, callback: () => void | Promise<void>): void {
		try {
			const result = callback();
			if (result instanceof Promise) result.catch((error) => this.#report(connection, error));
		} catch (error) {
			this.#report(connection, error);
		}
	}

	#deliver(room: string, message: unknown, except?: string): void {
		if (room == EVERYONE) deliverToAll(this.#connections, message, except);
		else this.#rooms.deliver(room, message, except);
	}

	#closed(connection: Connection<unknown>, code: number, reason: string): void {
		const session = this.#sessions.get(connection);
		session?.releaseAuthSlot?.();
		connection.leaveAllRooms();
		this.#connections.delete(connection);
		session?.route.connections.delete(connection);
		if (connection.authenticated) {
			this.#run(connection, () => session?.route.options.onClose?.(connection, code, reason));
		}
	}

	/** Hands a failure to the route's onError (as an Error), or logs it when there is none. */
	#report(connection: Connection<unknown> | undefined, failure: unknown): void {
		let error = errorFrom(failure);
		const onError = connection && this.#sessions.get(connection)?.route.options.onError;
		try {
			if (onError) return onError(connection, error);
		} catch (handlerError) {
			error = errorFrom(handlerError);
		}
		console.error('[runesocket/server]', error);
	}

	/** Upgrades keep being answered (503) until the very end, so no client waits on a dead listener. */
	async #shutDown(): Promise<void> {
		for (const route of this.#routes) route.stopTimers();
		await Promise.all(
			[...this.#connections].map((connection) => this.#closeGracefully(connection))
		);
		await this.#engine.close();
		for (const route of this.#routes) route.wss.close();
		for (const [httpServer, listener] of this.#listeners) httpServer.off('upgrade', listener);
		this.#listeners.clear();
	}

	async #closeGracefully(connection: Connection<unknown>): Promise<void> {
		connection.close(GOING_AWAY, 'Server shutting down');
		let timer: ReturnType<typeof setTimeout> | undefined;
		const overdue = new Promise<void>((resolve) => {
			timer = setTimeout(() => {
				connection.terminate();
				resolve(connection.closed);
			}, CLOSE_GRACE_MS);
		});
		await Promise.race([connection.closed, overdue]);
		clearTimeout(timer);
	}
}

/**
 * Creates a socket server. Attach it to an HTTP server (`server.attach(httpServer)`), or hand it
 * upgrade requests yourself (`server.handleUpgrade(request, socket, head)`).
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { createSocketServer } from 'runesocket/server';
 *
 * const http = createServer();
 * const sockets = createSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
 * sockets.attach(http);
 * http.listen(3000);
 * ```
 */
export function createSocketServer(options: SocketServerOptions): SocketServer {
	return new SocketServer(options);
}
