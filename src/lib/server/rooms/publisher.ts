import type { MessageDefinition } from '../../protocol/message.js';
import { EVERYONE, type Engine, type StreamPosition } from '../../engine/engine.js';
import {
	checkMessageSize,
	typedMessage,
	type TypedPublishOptions
} from '../../engine/message-typing.js';
import { sendToAll, type BroadcastOptions, type Connection } from '../connection.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { LocalRooms } from './local-rooms.js';

/**
 * The publish path, both ways: what the application publishes and connections broadcast goes to the
 * engine, and what the engine delivers goes to this process's members (every connection for
 * `EVERYONE`, else the room's members, in stream order).
 */
export class Publisher {
	#engine: Engine;
	#started: Promise<void>;
	#connections: ReadonlySet<Connection<unknown>>;
	#rooms: LocalRooms;
	#metrics: ServerMetrics;
	#maxMessageSize: number;

	constructor(
		engine: Engine,
		started: Promise<void>,
		local: {
			connections: ReadonlySet<Connection<unknown>>;
			rooms: LocalRooms;
			metrics: ServerMetrics;
			maxMessageSize: number;
		}
	) {
		this.#engine = engine;
		this.#started = started;
		this.#connections = local.connections;
		this.#rooms = local.rooms;
		this.#metrics = local.metrics;
		this.#maxMessageSize = local.maxMessageSize;
	}

	/** Publishes a typed message to `room`, or to every connection without one (see `SocketServer.publish`). */
	async publish<Data>(
		definition: MessageDefinition<Data>,
		data: Data,
		options: TypedPublishOptions
	): Promise<StreamPosition | undefined> {
		const message = await typedMessage(definition, data, options, this.#maxMessageSize);
		await this.#started;
		return this.#timedPublish(options.room ?? EVERYONE, message);
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

	/** A connection's broadcast: published to `rooms`, or sent to its route's connections here. */
	async broadcast(
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
		sendToAll(connection.route.connections, message, except);
	}

	/** What the engine delivered to `room`, to this process's members of it. */
	deliver(room: string, message: unknown, except?: string): void {
		if (room == EVERYONE) sendToAll(this.#connections, message, except);
		else this.#rooms.deliver(room, message, except);
	}

	/** Where `room`'s stream stands now. */
	async position(room: string): Promise<StreamPosition> {
		await this.#started;
		return (await this.#engine.history(room)).position;
	}
}
