import type { MessageDefinition } from '../protocol/message.js';
import { EVERYONE, type HistoryOptions, type StreamPosition } from '../engine/engine.js';
import { checkHistoryOptions, newEpoch } from '../engine/history.js';
import { DEFAULT_MAX_MESSAGE_SIZE, typedMessage } from '../engine/message-typing.js';
import {
	connect,
	createCommandConnection,
	quit,
	type RedisConnection,
	type RedisTarget
} from './connections.js';
import { commandFailure, commandWithin, throwUnlessReady } from './failures.js';
import { errorFrom } from '../engine/errors.js';
import { DEFAULT_PREFIX, DEFAULT_RETENTION_MS, checkPrefix, roomKeys } from './keys.js';
import { PublishQueue } from './publish-queue.js';
import { HISTORY_SCRIPT, runScript } from './scripts.js';
import { withDeadline } from '../engine/errors.js';

/**
 * Options of a `RedisPublisher`. `prefix`, `history` and `retention` must be those of the
 * `RedisEngine`s of the servers it publishes to: they share each room's keys, offsets and history.
 *
 * @example
 * ```ts
 * const options: RedisPublisherOptions = { redis: process.env.REDIS_URL!, history: { size: 500 } };
 * ```
 */
export interface RedisPublisherOptions {
	/**
	 * A Redis URL, ioredis options, an ioredis client or `Cluster` of the app's (used as it is, left
	 * open by `close()`), or `{ cluster: [startup nodes], options? }` for a Redis Cluster (as the
	 * engines' `redis`).
	 */
	redis: RedisTarget;
	/** Prefix of every key and channel (default `'runesocket:'`, as `RedisEngine`). */
	prefix?: string;
	/** How much history each room keeps (default: the last 100 messages, 5 minutes each). */
	history?: HistoryOptions;
	/** Milliseconds a room's offset and epoch live after its last publish (default 24 h). */
	retention?: number;
	/** Milliseconds Redis may take to connect or answer before a publish rejects (default 5 000). */
	timeout?: number;
	/** Largest message, serialised, that `publish` accepts (default 512 KiB, as the server's). */
	maxMessageSize?: number;
	/** Receives Redis connection errors. Default: logged with `console.error`, once per outage. */
	onError?: (error: Error) => void;
}

/**
 * Options of `RedisPublisher.publish`.
 *
 * @example
 * ```ts
 * await publisher.publish(IncidentCreated, incident, { room: 'account:42' } satisfies RedisPublishOptions);
 * ```
 */
export interface RedisPublishOptions {
	/** The room to publish to. Default: every connection of every server (no offset, no history). */
	room?: string;
	/**
	 * This message's conflation key, in place of the one its definition names (`null`: none). Room
	 * messages only (PROTOCOL.md, "Conflation").
	 */
	conflationKey?: string | number | null;
}

const DEFAULT_TIMEOUT_MS = 5_000;

function positiveNumber(name: string, value: number): number {
	if (typeof value != 'number' || !Number.isFinite(value) || value <= 0) {
		throw new TypeError(`RedisPublisher ${name} must be a finite number > 0, not ${String(value)}`);
	}
	return value;
}

/**
 * Publishes to runesocket rooms from a process that runs no socket server (a worker, a cron job, a
 * form action in another process): through the same atomic publish as `RedisEngine`, so its
 * messages take the room's next offsets, in one sequence with what the servers publish, are kept
 * in the room's history and recovered after a reconnect like any other. It opens one Redis
 * connection, on the first publish; nothing to start. While Redis is down a publish rejects at
 * once (after `timeout` when Redis does not answer; the message may then still have gone out).
 *
 * @example
 * ```ts
 * import { RedisPublisher } from 'runesocket/redis';
 *
 * const publisher = new RedisPublisher({ redis: process.env.REDIS_URL! });
 * const position = await publisher.publish(IncidentCreated, incident, { room: 'account:42' });
 * await publisher.to('account:42').emit(ActivityLogged, activity);
 * await publisher.close();
 * ```
 */
export class RedisPublisher {
	readonly #commands: RedisConnection;
	readonly #ownsCommands: boolean;
	readonly #prefix: string;
	readonly #retention: number;
	readonly #timeout: number;
	readonly #maxMessageSize: number;
	readonly #onError: ((error: Error) => void) | undefined;
	readonly #publishes: PublishQueue;
	readonly #detach: () => void;
	/** The first connection attempt: publishes made while it runs wait for it. */
	#firstConnection: Promise<void> | undefined;
	#connecting = false;
	#closed: Promise<void> | undefined;
	#loggedOutage = false;

	constructor(options: RedisPublisherOptions) {
		if (!options?.redis) {
			throw new TypeError(
				"RedisPublisher needs a Redis URL, options or client: new RedisPublisher({ redis: 'redis://127.0.0.1:6379' })"
			);
		}
		checkHistoryOptions(options.history);
		this.#prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX, 'RedisPublisher');
		this.#retention = positiveNumber('retention', options.retention ?? DEFAULT_RETENTION_MS);
		this.#timeout = positiveNumber('timeout', options.timeout ?? DEFAULT_TIMEOUT_MS);
		this.#maxMessageSize = positiveNumber(
			'maxMessageSize',
			options.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
		);
		this.#onError = options.onError;
		const { commands, ownsCommands } = createCommandConnection(options.redis);
		this.#commands = commands;
		this.#ownsCommands = ownsCommands;
		this.#publishes = new PublishQueue({
			redis: commands,
			keys: (room) => roomKeys(this.#prefix, room),
			history: options.history,
			retention: this.#retention,
			timeout: this.#timeout,
			failure: (room, error) => commandFailure(`publish to "${room}"`, error, commands)
		});
		// An ioredis client without an 'error' listener crashes the process.
		const onError = (error: Error) => this.#connectionError(error);
		const onReady = () => {
			this.#loggedOutage = false;
			this.#publishes.reconnected();
		};
		commands.on('error', onError);
		commands.on('ready', onReady);
		this.#detach = () => {
			commands.off('error', onError);
			commands.off('ready', onReady);
		};
	}

	/**
	 * Publishes a typed message to `room` (every connection without one), on every server process
	 * of the app. Resolves with the message's position in the room's stream (`undefined` without a
	 * room). Rejects with a `TypeError` when the data fails the definition's schema, a `RangeError`
	 * when the message is larger than `maxMessageSize`, and an Error when Redis is unavailable.
	 *
	 * @example
	 * ```ts
	 * const { offset, epoch } = (await publisher.publish(MonitorChanged, monitor, { room: 'project:web' }))!;
	 * ```
	 */
	async publish<Data>(
		definition: MessageDefinition<Data>,
		data: Data,
		options: RedisPublishOptions = {}
	): Promise<StreamPosition | undefined> {
		const { room } = options;
		const message = await typedMessage(definition, data, options, this.#maxMessageSize);
		const target = room ?? EVERYONE;
		await this.#connected(`publish to "${target}"`);
		return this.#publishes.publish(target, message, undefined);
	}

	/**
	 * `publisher.to(room).emit(def, data)`: the same as `publish(def, data, { room })`.
	 *
	 * @example
	 * ```ts
	 * await publisher.to('lobby').emit(Announcement, { text: 'Deploy at 18:00' });
	 * ```
	 */
	to(room: string): {
		emit<Data>(
			definition: MessageDefinition<Data>,
			data: Data
		): Promise<StreamPosition | undefined>;
	} {
		return { emit: (definition, data) => this.publish(definition, data, { room }) };
	}

	/**
	 * The room's current position: the offset of its last message and its epoch (a room never
	 * published to is at offset 0 of an epoch `~<Redis ms>` that nothing stores, as with
	 * `SocketServer.position`; a client joining with it gets the room's first messages).
	 *
	 * @example
	 * ```ts
	 * const { offset, epoch } = await publisher.position('lobby');
	 * ```
	 */
	async position(room: string): Promise<StreamPosition> {
		if (room == EVERYONE) return { offset: 0, epoch: '' };
		const what = `read the position of "${room}"`;
		await this.#connected(what);
		const { position, history } = roomKeys(this.#prefix, room);
		const reply = (await commandWithin(this.#commands, what, this.#timeout, () =>
			runScript(
				this.#commands,
				HISTORY_SCRIPT,
				[position, history],
				[newEpoch(), this.#retention, '', 0, 0, 0]
			)
		)) as [number, string];
		return { offset: Number(reply[0]), epoch: String(reply[1]) };
	}

	/**
	 * Closes its connection (the app's own client, if it gave one, stays open); later publishes
	 * reject.
	 *
	 * @example
	 * ```ts
	 * process.once('SIGTERM', () => publisher.close());
	 * ```
	 */
	close(): Promise<void> {
		this.#closed ??= (async () => {
			if (this.#ownsCommands) await quit(this.#commands, this.#timeout);
			this.#detach();
		})();
		return this.#closed;
	}

	/**
	 * Resolves once the connection is ready: the first call connects (bounded by `timeout`), later
	 * ones throw at once while Redis is unavailable.
	 */
	async #connected(what: string): Promise<void> {
		if (this.#closed) throw new Error(`runesocket/redis: cannot ${what}: the publisher is closed`);
		if (this.#commands.status == 'ready') return;
		if (!this.#firstConnection && this.#commands.status == 'wait') {
			this.#connecting = true;
			this.#firstConnection = withDeadline(connect(this.#commands), this.#timeout, 'Redis').finally(
				() => {
					this.#connecting = false;
				}
			);
		}
		if (this.#connecting) {
			try {
				await this.#firstConnection;
			} catch (error) {
				throw commandFailure(what, error, this.#commands);
			}
		}
		throwUnlessReady(this.#commands, what, 'not connected yet');
	}

	#connectionError(error: Error): void {
		try {
			if (this.#onError) return this.#onError(error);
		} catch (handlerError) {
			error = errorFrom(handlerError);
		}
		if (this.#loggedOutage) return;
		this.#loggedOutage = true;
		console.error('[runesocket/redis] publisher connection:', error.message);
	}
}
