import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import type { MessageDefinition } from '../protocol/message.js';
import type { EngineCommand, StreamPosition } from '../engine/engine.js';
import type { Connection } from './connection.js';
import { metricsText, ServerMetrics, type ServerMetricsSnapshot } from './metrics/metrics.js';
import { DEFAULT_MAX_CONNECTIONS, type SocketServerOptions } from './options.js';
import { Route } from './route.js';
import { Rooms } from './rooms/rooms.js';
import { Dispatcher, type MessageHandler } from './session/dispatch.js';
import { RequestKeys } from './session/request-keys.js';
import { Sessions } from './session/sessions.js';
import { UserLimit } from './session/user-limit.js';
import { disconnectCommand, reauthorizeCommand, runUserCommand } from './user-commands.js';
import { UpgradeGate } from './upgrade/upgrade-gate.js';

export type { MessageHandler, Reply } from './session/dispatch.js';

/**
 * Options of `publish`.
 */
export interface ServerPublishOptions {
	/** The room to publish to. Default: every connection. */
	room?: string;
	/**
	 * This message's conflation key, in place of the one its definition names (`null`: none). Room
	 * messages only (PROTOCOL.md, "Conflation").
	 */
	conflationKey?: string | number | null;
}

/**
 * The server end of runesocket (on `ws`, through `transport/`). Read in the order a connection meets
 * it: its `Route`, the `UpgradeGate` (route, origin, capacity, `authenticate`), then `Sessions`, which
 * make its `Connection` and `Session` (rate limit, first-message token) and pass its frames to the
 * `Dispatcher` (heartbeats, reserved names, typed handlers); `Rooms` owns the engine and what rides
 * on it (memberships, local rooms, presence, the publish path). Create it with `createSocketServer`.
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
	#connections = new Set<Connection<unknown>>();
	#metrics = new ServerMetrics();
	#rooms: Rooms;
	#dispatcher: Dispatcher;
	#sessions: Sessions;
	#gate: UpgradeGate;
	#userLimit: UserLimit;
	#closing: Promise<void> | undefined;

	constructor(options: SocketServerOptions) {
		if (!Array.isArray(options?.routes) || options.routes.length == 0) {
			throw new TypeError(
				'createSocketServer needs at least one route: { routes: [{ path: "/ws" }] }'
			);
		}
		const metrics = this.#metrics;
		const connections = this.#connections;
		const routes = (this.#routes = options.routes.map((route) => new Route(route, metrics)));
		this.#rooms = new Rooms({
			engine: options.engine,
			routes,
			connections,
			metrics,
			maxMessageSize: options.maxMessageSize,
			command: (command) => this.#run(command)
		});
		this.#userLimit = new UserLimit(this.#rooms.engine.userSlots, metrics);
		this.#dispatcher = new Dispatcher(this.#rooms, new RequestKeys(this.#rooms.engine.requestKeys));
		this.#sessions = new Sessions(
			connections,
			metrics,
			this.#rooms,
			this.#dispatcher,
			this.#userLimit
		);
		this.#gate = new UpgradeGate(routes, metrics, {
			maxConnections: options.maxConnections ?? DEFAULT_MAX_CONNECTIONS,
			connections,
			accept: (upgrade) => this.#sessions.accept(upgrade)
		});
		for (const route of routes) route.startTimers();
	}

	/** Every open connection on this process. */
	get connections(): ReadonlySet<Connection<unknown>> {
		return this.#connections;
	}

	/** Resolves once the engine is ready (rejects if it could not start). */
	ready(): Promise<void> {
		return this.#rooms.started;
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
		return this.#rooms.publisher.publish(definition, data, options);
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

	/**
	 * Closes every connection of `userId` (the route's `userId`, default `authData.id`) on every
	 * route of every process on the same engine (RedisEngine: through its control channel, within a
	 * second) with `code` (default 4004, on which the client stops reconnecting) and `reason`
	 * (default `Session revoked`). This process's connections are closed at once. Resolves once the
	 * command was sent; rejects when the engine could not send it (this process's connections are
	 * closed all the same). With an engine that has no `command`, only this process's connections
	 * are closed. A connection still verifying its token is not closed: check revocations in
	 * `verify`/`authenticate` too. Rejects with a TypeError for a `userId` that is not a string or a code
	 * no close frame may carry.
	 *
	 * @example
	 * ```ts
	 * await sockets.disconnectUser(connection.authData.id); // signed out: 4004 "Session revoked"
	 * await sockets.disconnectUser('ada', { code: 4000, reason: 'Account moved' });
	 * ```
	 */
	disconnectUser(userId: string, options: { code?: number; reason?: string } = {}): Promise<void> {
		return this.#send(() => disconnectCommand(userId, options));
	}

	/**
	 * Checks every room of `userId`'s connections again with the route's `authorizeJoin`, on every
	 * process on the same engine, as after a token refresh: a room no longer allowed is left, and
	 * the client gets a `forbidden` error naming it. Call it after a change of roles. Resolves once
	 * the command was sent (see `disconnectUser`).
	 *
	 * @example
	 * ```ts
	 * // Ada lost her role in team:acme: her tabs leave it, on every process.
	 * await sockets.reauthorizeUser('ada');
	 * ```
	 */
	reauthorizeUser(userId: string): Promise<void> {
		return this.#send(() => reauthorizeCommand(userId));
	}

	/** Where `room`'s stream stands now: what a page loaded now should pass as `since` when it joins. */
	position(room: string): Promise<StreamPosition> {
		return this.#rooms.publisher.position(room);
	}

	/**
	 * The server's metrics in Prometheus' text exposition format 0.0.4 (serve it as
	 * `text/plain; version=0.0.4`, or let `metricsRequestHandler` do it): connections, refusals,
	 * messages and bytes, rate-limit and slow-consumer closes, replays, unrecoverable rooms, engine
	 * health and publish latency, all named `runesocket_…`.
	 *
	 * @example
	 * ```ts
	 * response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' }).end(sockets.metrics());
	 * ```
	 */
	metrics(): string {
		return metricsText(this.metricsSnapshot());
	}

	/**
	 * The numbers `metrics()` writes, as an object.
	 *
	 * @example
	 * ```ts
	 * const { connectionsOpen, rateLimited } = sockets.metricsSnapshot();
	 * ```
	 */
	metricsSnapshot(): ServerMetricsSnapshot {
		const connectionsOpen: Record<string, number> = {};
		for (const route of this.#routes) {
			const path = route.options.path;
			connectionsOpen[path] = (connectionsOpen[path] ?? 0) + route.connections.size;
		}
		return this.#metrics.snapshot(connectionsOpen, this.#rooms.healthy);
	}

	// Commands to every process.

	/** Sends a command through the engine, or runs it here when the engine carries none. */
	async #send(make: () => EngineCommand): Promise<void> {
		const command = make();
		const engine = this.#rooms.engine;
		if (engine.command) return engine.command(command);
		this.#run(command);
	}

	/** A command for this process (sent by any): the user's connections here are closed or re-checked. */
	#run(command: EngineCommand): void {
		runUserCommand(command, {
			routes: this.#routes,
			memberships: this.#rooms.memberships,
			userLimit: this.#userLimit,
			metrics: this.#metrics
		});
	}

	// Shutting down.

	/** Upgrades keep being answered (503) until the very end, so no client waits on a dead listener. */
	async #shutDown(): Promise<void> {
		for (const route of this.#routes) route.stopTimers();
		await this.#sessions.closeAll();
		await this.#rooms.close();
		this.#gate.detach();
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
