import {
	EVERYONE,
	type Engine,
	type EngineCommand,
	type EngineHandlers
} from '../../engine/engine.js';
import { MemoryEngine } from '../../engine/memory-engine.js';
import { DEFAULT_MAX_MESSAGE_SIZE } from '../../engine/message-typing.js';
import { logFailure } from '../callbacks.js';
import type { Connection } from '../connection.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { Route } from '../route.js';
import { LocalRooms } from './local-rooms.js';
import { Memberships } from './memberships.js';
import { PresenceRooms } from './presence.js';
import { Publisher } from './publisher.js';

/** What the room machinery needs of its server. */
export interface RoomsOptions {
	/** Where rooms live. Default a `MemoryEngine` (one process). */
	readonly engine: Engine | undefined;
	readonly routes: readonly Route[];
	/** Every open connection on this process: the members of `EVERYONE`. */
	readonly connections: ReadonlySet<Connection<unknown>>;
	readonly metrics: ServerMetrics;
	/** Largest message, serialised, that a publish or a broadcast accepts. */
	readonly maxMessageSize: number | undefined;
	/** Runs a command the engine hands on (from this process or another one). */
	readonly command: (command: EngineCommand) => void;
}

/**
 * The engine and everything that rides on it, wired once: this process's members of each room
 * (`LocalRooms`), presence (`PresenceRooms`), the one owner of a connection's rooms (`Memberships`)
 * and the publish path (`Publisher`). It starts the engine, with its handlers pointing here, and
 * subscribes to `EVERYONE`, the room every connection is in.
 */
export class Rooms {
	readonly memberships: Memberships;
	readonly presence: PresenceRooms;
	readonly publisher: Publisher;
	/** Settles once the engine is started and this process receives `EVERYONE`'s messages. */
	readonly started: Promise<void>;
	/** Where rooms live, and the user slots and commands of `disconnectUser` and its kin. */
	readonly engine: Engine;
	#local: LocalRooms;
	#command: (command: EngineCommand) => void;

	constructor(options: RoomsOptions) {
		const engine = options.engine ?? new MemoryEngine();
		const { metrics } = options;
		this.engine = engine;
		this.#command = options.command;
		this.presence = new PresenceRooms(engine, options.routes);
		// The engine starts a microtask later, so the local rooms and the publisher built below exist
		// by the time its handlers can be called.
		this.started = Promise.resolve()
			.then(() => engine.start(this.#engineHandlers()))
			.then(() => engine.subscribe(EVERYONE));
		this.started.catch(logFailure);
		this.#local = new LocalRooms(engine, this.started, logFailure, metrics);
		this.memberships = new Memberships(this.#local, this.presence);
		this.publisher = new Publisher(engine, this.started, {
			connections: options.connections,
			rooms: this.#local,
			metrics,
			maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
		});
	}

	/** Where the engine hands what it receives: deliveries, resyncs, refusals, presence changes. */
	#engineHandlers(): EngineHandlers {
		return {
			deliver: (room, message, except) => this.publisher.deliver(room, message, except),
			resync: () => this.#local.resync(),
			refused: (room) => this.#local.refused(room),
			presence: (room, change) => this.presence.changed(room, change),
			command: (command) => this.#command(command)
		};
	}

	get healthy(): boolean {
		return this.engine.healthy ?? true;
	}

	/**
	 * Closes the engine (once every connection has gone), after the presence of connections in grace
	 * ended (`PresenceRooms.close`).
	 */
	async close(): Promise<void> {
		await this.presence.close();
		await this.engine.close();
	}
}
