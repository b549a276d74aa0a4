import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { GOING_AWAY, INTERNAL_ERROR } from '../protocol/close-codes.js';
import { CONNECTED_MESSAGE } from '../protocol/envelope.js';
import type { MessageDefinition } from '../protocol/message.js';
import { EVERYONE, type Engine, type StreamPosition } from '../engine/engine.js';
import { MemoryEngine } from '../engine/memory-engine.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../engine/message-typing.js';
import { contain, logFailure } from './session/callbacks.js';
import { Connection } from './connection.js';
import { Dispatcher, type MessageHandler } from './session/dispatch.js';
import { LocalRooms } from './rooms/local-rooms.js';
import { Memberships } from './rooms/memberships.js';
import { PresenceRooms } from './rooms/presence.js';
import { Publisher } from './rooms/publisher.js';
import { metricFamilies, ServerMetrics, type ServerMetricsSnapshot } from './metrics/metrics.js';
import { prometheusText } from './metrics/prometheus-text.js';
import { DEFAULT_MAX_CONNECTIONS, type SocketServerOptions } from './options.js';
import { RoomRequests } from './session/room-requests.js';
import { Route } from './route.js';
import { Session, type SessionHost } from './session/session.js';
import { UpgradeGate, type AcceptedUpgrade } from './upgrade/upgrade-gate.js';

export type { MessageHandler, Reply } from './session/dispatch.js';

/**
 * Options of `publish`.
 */
export interface ServerPublishOptions {
	/** The room to publish to. Default: every connection. */
	room?: string;
}

/**
 * The server end of runesocket (on `ws`, through `transport/`). Read in the order a connection meets
 * it: the `UpgradeGate` (route, origin, capacity, `authenticate`), then its `Session` (rate limit,
 * first-message token), then the `Dispatcher` (heartbeats, reserved names, typed handlers), room
 * requests and `Memberships` (`LocalRooms`, presence), the `Publisher`, and last the per-connection
 * outbox. Create it with `createSocketServer`.
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
	#connections = new Set<Connection<unknown>>();
	#metrics = new ServerMetrics();
	#gate: UpgradeGate;
	#memberships: Memberships;
	#publisher: Publisher;
	#dispatcher: Dispatcher;
	#started: Promise<void>;
	#closing: Promise<void> | undefined;

	constructor(options: SocketServerOptions) {
		if (!Array.isArray(options?.routes) || options.routes.length == 0) {
			throw new TypeError(
				'createSocketServer needs at least one route: { routes: [{ path: "/ws" }] }'
			);
		}
		this.#routes = options.routes.map((route) => new Route(route, this.#metrics));
		const engine = (this.#engine = options.engine ?? new MemoryEngine());
		const presence = new PresenceRooms(engine, this.#routes);
		this.#started = Promise.resolve()
			.then(() =>
				engine.start({
					deliver: (room, message, except) => this.#publisher.deliver(room, message, except),
					resync: () => rooms.resync(),
					refused: (room) => rooms.refused(room),
					presence: (room, change) => presence.changed(room, change)
				})
			)
			.then(() => engine.subscribe(EVERYONE));
		this.#started.catch(logFailure);
		const rooms = new LocalRooms(engine, this.#started, logFailure, this.#metrics);
		this.#memberships = new Memberships(rooms, presence);
		this.#publisher = new Publisher(engine, this.#started, {
			connections: this.#connections,
			rooms,
			metrics: this.#metrics,
			maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
		});
		this.#dispatcher = new Dispatcher(new RoomRequests(this.#memberships), presence);
		this.#gate = new UpgradeGate(this.#routes, this.#metrics, {
			maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
			connections: this.#connections,
			accept: (upgrade) => this.#accept(upgrade)
		});
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
		return this.#gate.matches(request);
	}

	/**
	 * Listens to `httpServer`'s upgrade requests. Those for this server's routes are handled; the
	 * others are left to the server's other upgrade listeners (e.g. Vite's HMR) and answered 404 when
	 * none takes them (at once when there is no other listener).
	 */
	attach(httpServer: HttpServer): this {
		this.#gate.attach(httpServer);
		return this;
	}

	/**
	 * Takes over one upgrade request: checks origin, limits and authentication, then accepts or
	 * refuses it with an HTTP status. Never rejects: whatever goes wrong is answered and reported.
	 */
	handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
		return this.#gate.handle(request, socket, head);
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
		this.#gate.handleUnrouted(socket, alone);
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
		return this.#publisher.publish(definition, data, options.room);
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
		if (!this.#closing) {
			this.#gate.refuseAll();
			this.#closing = this.#shutDown();
		}
		return this.#closing;
	}

	/** Where `room`'s stream stands now: what a page loaded now should pass as `since` when it joins. */
	position(room: string): Promise<StreamPosition> {
		return this.#publisher.position(room);
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

	// Sessions.

	#accept({ route, transport, request, params, authData }: AcceptedUpgrade): void {
		const connection = new Connection<unknown>(
			transport,
			request,
			params,
			route,
			this.#memberships,
			this.#publisher
		);
		const session = new Session(connection, route, this.#sessionHost);
		this.#connections.add(connection);
		route.connections.add(connection);
		this.#metrics.connectionOpened(route.options.path);
		transport.listen(session);
		session.start(authData);
	}

	/** What sessions ask of their server. */
	#sessionHost: SessionHost = {
		ready: (session, authData) => this.#ready(session, authData),
		dispatch: (session, frame) => this.#dispatcher.dispatch(session, frame),
		report: (connection, error) => connection.report(error),
		closed: (session, code, reason) => this.#closed(session, code, reason)
	};

	#ready(session: Session, authData: unknown): void {
		const { connection, route } = session;
		connection.authenticate(authData);
		let shown: Record<string, unknown> | undefined;
		try {
			shown = route.options.connectedData?.(connection);
		} catch (error) {
			connection.report(error);
			return session.close(INTERNAL_ERROR, 'Could not prepare the connection');
		}
		connection.sendReserved(CONNECTED_MESSAGE, { ...shown, id: connection.id });
		contain(
			() => route.options.onConnect?.(connection),
			(error) => connection.report(error)
		);
	}

	#closed(session: Session, code: number, reason: string): void {
		const { connection, route } = session;
		session.end();
		this.#memberships.leaveAll(connection);
		this.#connections.delete(connection);
		route.connections.delete(connection);
		const decided = connection.closeCodeDecided;
		this.#metrics.connectionClosed(decided ?? code, decided !== undefined);
		if (connection.authenticated) {
			contain(
				() => route.options.onClose?.(connection, code, reason),
				(error) => connection.report(error)
			);
		}
	}

	// Shutting down.

	/** Upgrades keep being answered (503) until the very end, so no client waits on a dead listener. */
	async #shutDown(): Promise<void> {
		for (const route of this.#routes) route.stopTimers();
		await Promise.all(
			[...this.#connections].map((connection) => this.#closeGracefully(connection))
		);
		await this.#engine.close();
		this.#gate.detach();
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
