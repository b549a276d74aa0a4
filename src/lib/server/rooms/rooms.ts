import { EVERYONE, type Engine } from '../../engine/engine.js';
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
	#engine: Engine;

	constructor(options: RoomsOptions) {
		const engine = (this.#engine = options.engine ?? new MemoryEngine());
		const { metrics } = options;
		const presence = (this.presence = new PresenceRooms(engine, options.routes));
		const started = (this.started = Promise.resolve()
			.then(() =>
				engine.start({
					deliver: (room, message, except) => publisher.deliver(room, message, except),
					resync: () => local.resync(),
					refused: (room) => local.refused(room),
					presence: (room, change) => presence.changed(room, change)
				})
			)
			.then(() => engine.subscribe(EVERYONE)));
		started.catch(logFailure);
		const local = new LocalRooms(engine, started, logFailure, metrics);
		this.memberships = new Memberships(local, presence);
		const publisher = (this.publisher = new Publisher(engine, started, {
			connections: options.connections,
			rooms: local,
			metrics,
			maxMessageSize: options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
		}));
	}

	/** Whether the engine reaches its backend (an engine that does not say is taken as healthy). */
	get healthy(): boolean {
		return this.#engine.healthy ?? true;
	}

	/** Closes the engine (once every connection has gone). */
	close(): Promise<void> {
		return this.#engine.close();
	}
}
