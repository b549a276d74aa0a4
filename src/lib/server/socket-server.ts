import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { WebSocket } from 'ws';
import { GOING_AWAY, INTERNAL_ERROR } from '../protocol/close-codes.js';
import { CONNECTED_MESSAGE } from '../protocol/envelope.js';
import type { MessageDefinition } from '../protocol/message.js';
import { CALLBACK_TIMEOUT_MS, contain } from './session/callbacks.js';
import { DeadlineError, errorFrom, withDeadline } from '../engine/errors.js';
import {
	Connection,
	deliverToAll,
	type BroadcastOptions,
	type ConnectionHost
} from './connection.js';
import { Dispatcher, type MessageHandler } from './session/dispatch.js';
import { EVERYONE, type Engine, type StreamPosition } from '../engine/engine.js';
import { LocalRooms } from './rooms/local-rooms.js';
import { MemoryEngine } from '../engine/memory-engine.js';
import {
	metricFamilies,
	ServerMetrics,
	type ServerMetricsSnapshot,
	type UpgradeRefusal
} from './metrics/metrics.js';
import { DEFAULT_MAX_CONNECTIONS, type AuthResult, type SocketServerOptions } from './options.js';
import { isOriginAllowed } from './upgrade/origin.js';
import { PresenceRooms } from './rooms/presence.js';
import {
	checkMessageSize,
	DEFAULT_MAX_MESSAGE_SIZE,
	typedMessage
} from '../engine/message-typing.js';
import { prometheusText } from './metrics/prometheus-text.js';
import { RoomRequests } from './session/room-requests.js';
import { Route } from './route.js';
import { authResult, Session } from './session/session.js';
import { refusalStatus, refuseUpgrade, UnclaimedUpgrades } from './upgrade/upgrade.js';

export type { MessageHandler, Reply } from './session/dispatch.js';

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

/**
 * The server end of runesocket, on `ws`. Read in the order a connection meets it: upgrade checks
 * (route, origin, capacity, `authenticate`), then its `Session` (rate limit, first-message token),
 * then the `Dispatcher` (heartbeats, reserved names, typed handlers), room requests and `LocalRooms`,
 * and last the per-connection outbox. Create it with `createSocketServer`.
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
	#maxMessageSize: number;
	#upgrading = 0;
	#unclaimed = new UnclaimedUpgrades();
	#connections = new Set<Connection<unknown>>();
	#sessions = new WeakMap<Connection<unknown>, Session>();
	#rooms: LocalRooms;
	#dispatcher: Dispatcher;
	#listeners = new Map<
		HttpServer,
		(request: IncomingMessage, socket: Duplex, head: Buffer) => void
	>();
	#metrics = new ServerMetrics();
	#presence: PresenceRooms;
	#started: Promise<void>;
	#closing: Promise<void> | undefined;

	constructor(options: SocketServerOptions) {
		if (!Array.isArray(options?.routes) || options.routes.length == 0) {
			throw new TypeError(
				'createSocketServer needs at least one route: { routes: [{ path: "/ws" }] }'
			);
		}
		this.#routes = options.routes.map((route) => new Route(route, this.#metrics));
		this.#engine = options.engine ?? new MemoryEngine();
		this.#maxConnections = options.maxConnections ?? DEFAULT_MAX_CONNECTIONS;
		this.#maxMessageSize = options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE;
		this.#presence = new PresenceRooms(this.#engine, this.#routes, {
			routeOf: (connection) => this.#sessions.get(connection as Connection<unknown>)?.route,
			report: (connection, error) => this.#report(connection, error)
		});
		this.#started = Promise.resolve()
			.then(() =>
				this.#engine.start({
					deliver: (room, message, except) => this.#deliver(room, message, except),
					resync: () => this.#rooms.resync(),
					refused: (room) => this.#rooms.refused(room),
					presence: (room, change) => this.#presence.changed(room, change)
				})
			)
			.then(() => this.#engine.subscribe(EVERYONE));
		this.#started.catch((error) => this.#report(undefined, error));
		this.#rooms = new LocalRooms(
			this.#engine,
			this.#started,
			(error) => this.#report(undefined, error),
			this.#metrics
		);
		const report = (connection: Connection<unknown>, error: unknown) =>
			this.#report(connection, error);
		this.#dispatcher = new Dispatcher(
			new RoomRequests(this.#rooms, report),
			this.#presence,
			report
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
	 * Listens to `httpServer`'s upgrade requests. Those for this server's routes are handled; the
	 * others are left to the server's other upgrade listeners (e.g. Vite's HMR) and answered 404 when
	 * none takes them (at once when there is no other listener).
	 */
	attach(httpServer: HttpServer): this {
		if (this.#listeners.has(httpServer)) return this;
		const listener = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
			if (this.matches(request)) void this.handleUpgrade(request, socket, head);
			else this.handleUnroutedUpgrade(socket, httpServer.listenerCount('upgrade') == 1);
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
			this.#refuse(socket, 500, 'error');
		}
	}

	/**
	 * An upgrade request none of this server's routes serves, on an HTTP server it shares with other
	 * upgrade listeners: answered 404 unless one of them takes it within 3 s (at once when `alone`),
	 * and counted towards `maxConnections` meanwhile. `attach` and the Vite plugin call it for you.
	 *
	 * @example
	 * ```ts
	 * httpServer.on('upgrade', (request, socket, head) => {
	 * 	if (sockets.matches(request)) void sockets.handleUpgrade(request, socket, head);
	 * 	else sockets.handleUnroutedUpgrade(socket, false);
	 * });
	 * ```
	 */
	handleUnroutedUpgrade(socket: Duplex, alone: boolean): void {
		this.#unclaimed.watch(socket, alone || this.#atCapacity());
	}

	/**
	 * Adds a handler for one message, as the client's `on` does: several handlers of a name all run
	 * (in the order they were added) and share one `reply`. Returns the function that removes it.
	 */
	on<Data>(definition: MessageDefinition<Data>, handler: MessageHandler<Data>): () => void {
		return this.#dispatcher.on(definition, handler);
	}

	/**
	 * Publishes a typed message to a room, on every server process the engine reaches, or to every
	 * connection without a room. Resolves with the message's place in the room's stream (as
	 * `RedisPublisher` does; undefined without a room). Rejects with a `TypeError` when the data fails
	 * the definition's schema or the room name is empty, a `RangeError` when the message is larger
	 * than `maxMessageSize`, and with the engine's error when it cannot publish.
	 */
	async publish<Data>(
		definition: MessageDefinition<Data>,
		data: Data,
		options: ServerPublishOptions = {}
	): Promise<StreamPosition | undefined> {
		const { room } = options;
		const message = await typedMessage(definition, data, room, this.#maxMessageSize);
		await this.#started;
		return this.#timedPublish(room ?? EVERYONE, message);
	}

	/** Publishes through the engine, timing it until it settles. */
	async #timedPublish(room: string, message: unknown): Promise<StreamPosition | undefined> {
		const start = performance.now();
		let position: StreamPosition | undefined;
		try {
			position = await this.#engine.publish(room, message);
		} catch (error) {
			this.#metrics.publishFailures++;
			throw error;
		}
		this.#metrics.publishDuration.observe((performance.now() - start) / 1000);
		return position;
	}

	/** `server.to(room).emit(def, data)`: the same as `publish(def, data, { room })`. */
	to(room: string): {
		emit<Data>(
			definition: MessageDefinition<Data>,
			data: Data
		): Promise<StreamPosition | undefined>;
	} {
		return { emit: (definition, data) => this.publish(definition, data, { room }) };
	}

	/**
	 * Stops accepting connections, closes every one with 1001 after what is queued for it was sent,
	 * waits for them to go (dropping any that do not finish the close handshake in 3 s), then closes
	 * the engine.
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

	/**
	 * The server's metrics in Prometheus' text exposition format 0.0.4 (serve it with
	 * `PROMETHEUS_CONTENT_TYPE`, or let `metricsRequestHandler` do it): connections, refusals,
	 * messages and bytes, rate-limit and slow-consumer closes, replays, unrecoverable rooms, engine
	 * health and publish latency, all named `runesocket_…`.
	 *
	 * @example
	 * ```ts
	 * response.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE }).end(server.metrics());
	 * ```
	 */
	metrics(): string {
		return prometheusText(metricFamilies(this.metricsSnapshot()));
	}

	/**
	 * The numbers `metrics()` writes, as an object.
	 *
	 * @example
	 * ```ts
	 * const { connectionsOpen, rateLimited } = server.metricsSnapshot();
	 * ```
	 */
	metricsSnapshot(): ServerMetricsSnapshot {
		const connectionsOpen: Record<string, number> = {};
		for (const route of this.#routes) {
			const path = route.options.path;
			connectionsOpen[path] = (connectionsOpen[path] ?? 0) + route.connections.size;
		}
		return this.#metrics.snapshot(connectionsOpen, this.#engine.healthy ?? true);
	}

	// Upgrade checks.

	async #upgrade(
		request: IncomingMessage,
		socket: Duplex,
		head: Buffer,
		handedOver: () => void
	): Promise<void> {
		const url = request.url ?? '';
		const route = this.#routes.find((candidate) => candidate.pattern.test(url));
		if (!route) return this.#refuse(socket, 404, 'not_found');
		let params: Record<string, string>;
		try {
			params = route.pattern.match(url) ?? {};
		} catch {
			return this.#refuse(socket, 400, 'malformed_path', 'Malformed path');
		}
		if (this.#closing) return this.#refuse(socket, 503, 'shutting_down', 'Server shutting down');
		if (!this.#originAllowed(route, request)) {
			return this.#refuse(socket, 403, 'origin', 'Origin not allowed');
		}
		if (this.#atCapacity()) return this.#refuse(socket, 503, 'capacity', 'Too many connections');
		this.#upgrading++;
		try {
			let authData: unknown;
			if (route.options.authenticate) {
				const result = await this.#authenticateUpgrade(route, request);
				if (!result.success) {
					const status = refusalStatus(result.code);
					this.#metrics.authRefused(status);
					return refuseUpgrade(socket, status, result.reason);
				}
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

	/** Refuses an upgrade before authentication, counted by `why`. */
	#refuse(socket: Duplex, status: number, why: UpgradeRefusal, reason?: string): void {
		this.#metrics.upgradeRefused(why);
		refuseUpgrade(socket, status, reason);
	}

	#atCapacity(): boolean {
		const open = this.#connections.size + this.#upgrading + this.#unclaimed.size;
		return open >= this.#maxConnections;
	}

	#originAllowed(route: Route, request: IncomingMessage): boolean {
		try {
			return isOriginAllowed(request, route.options.origins ?? 'same-host');
		} catch (error) {
			this.#report(undefined, error);
			return false;
		}
	}

	/** `authenticate`'s answer: one that throws is a 500, one that hangs past 5 s a 503. */
	async #authenticateUpgrade(route: Route, request: IncomingMessage): Promise<AuthResult<unknown>> {
		try {
			const answer = await withDeadline(
				() => route.options.authenticate!(request),
				CALLBACK_TIMEOUT_MS,
				'authenticate'
			);
			return authResult(answer);
		} catch (error) {
			this.#report(undefined, error);
			return error instanceof DeadlineError
				? { success: false, code: 503, reason: 'Authentication took too long' }
				: { success: false, code: 500, reason: 'Authentication failed' };
		}
	}

	// Sessions.

	#accept(
		route: Route,
		ws: WebSocket,
		request: IncomingMessage,
		params: Record<string, string>,
		authData: unknown
	): void {
		// The route is the connection's limits (maxBufferedBytes, compressionThreshold): no copy each.
		const connection = new Connection<unknown>(ws, request, params, this.#host, route);
		const session = new Session(connection, route, this.#sessionHost);
		this.#sessions.set(connection, session);
		this.#connections.add(connection);
		route.connections.add(connection);
		this.#metrics.connectionOpened(route.options.path);
		session.listen(ws);
		session.start(authData);
	}

	/** What sessions ask of their server. */
	#sessionHost = {
		ready: (session: Session, authData: unknown) => this.#ready(session, authData),
		dispatch: (session: Session, frame: string) => this.#dispatcher.dispatch(session, frame),
		report: (connection: Connection<unknown>, error: unknown) => this.#report(connection, error),
		closed: (session: Session, code: number, reason: string) => this.#closed(session, code, reason)
	};

	#ready(session: Session, authData: unknown): void {
		const { connection, route } = session;
		connection.authenticate(authData);
		let shown: Record<string, unknown> | undefined;
		try {
			shown = route.options.connectedData?.(connection);
		} catch (error) {
			this.#report(connection, error);
			return session.close(INTERNAL_ERROR, 'Could not prepare the connection');
		}
		connection.sendReserved(CONNECTED_MESSAGE, { ...shown, id: connection.id });
		contain(
			() => route.options.onConnect?.(connection),
			(error) => this.#report(connection, error)
		);
	}

	#closed(session: Session, code: number, reason: string): void {
		const { connection, route } = session;
		session.end();
		connection.leaveAllRooms();
		this.#connections.delete(connection);
		route.connections.delete(connection);
		const decided = connection.closeCodeDecided;
		this.#metrics.connectionClosed(decided ?? code, decided !== undefined);
		if (connection.authenticated) {
			contain(
				() => route.options.onClose?.(connection, code, reason),
				(error) => this.#report(connection, error)
			);
		}
	}

	// Rooms and broadcasts.

	/** What connections ask of their server: room membership and broadcasts. */
	#host: ConnectionHost = {
		join: (connection, room) => {
			this.#rooms.add(connection, room);
			this.#presence.joined(connection, room);
		},
		leave: (connection, room) => {
			this.#rooms.remove(connection, room);
			this.#presence.left(connection, room);
		},
		broadcast: (connection, message, options) => this.#broadcast(connection, message, options)
	};

	async #broadcast(
		connection: Connection<unknown>,
		message: unknown,
		{ rooms, includeSelf = false }: BroadcastOptions
	): Promise<void> {
		checkMessageSize(message, 'Broadcast', this.#maxMessageSize);
		const except = includeSelf ? undefined : connection.id;
		if (rooms) {
			await Promise.all(rooms.map((room) => this.#engine.publish(room, message, { except })));
			return;
		}
		deliverToAll(this.#sessions.get(connection)?.route.connections ?? [], message, except);
	}

	#deliver(room: string, message: unknown, except?: string): void {
		if (room == EVERYONE) deliverToAll(this.#connections, message, except);
		else this.#rooms.deliver(room, message, except);
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

	// Shutting down.

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

	/** Closes with 1001; the connection itself drops a peer that does not answer within 3 s. */
	async #closeGracefully(connection: Connection<unknown>): Promise<void> {
		connection.close(GOING_AWAY, 'Server shutting down');
		await connection.closed;
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
