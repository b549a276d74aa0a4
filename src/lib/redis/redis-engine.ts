import { randomBytes } from 'node:crypto';
import {
	EVERYONE,
	type Engine,
	type EngineCommand,
	type EngineHandlers,
	type EnginePresence,
	type EngineRequestKeys,
	type HistoryOptions,
	type HistoryReadOptions,
	type HistoryResult,
	type PublishOptions,
	type StreamPosition
} from '../engine/engine.js';
import { errorFrom, withDeadline } from '../engine/errors.js';
import {
	checkHistoryOptions,
	everyoneHistory,
	historyWithoutMessages,
	historyPolicy,
	isStreamPosition,
	newEpoch,
	notRecovered
} from '../engine/history.js';
import {
	connect,
	createConnections,
	isCluster,
	quit,
	type RedisConnection,
	type RedisTarget
} from './connections.js';
import { commandFailure, commandWithin, throwUnlessReady } from './failures.js';
import { HealthSignal } from './health-signal.js';
import { controlMessage, parseControlMessage } from './control-messages.js';
import {
	DEFAULT_PREFIX,
	DEFAULT_RETENTION_MS,
	checkPrefix,
	controlChannel,
	roomKeys
} from './keys.js';
import { parseEnvelopes, type Envelope, type PresenceEnvelope } from './channel-envelopes.js';
import { PublishQueue } from './publish-queue.js';
import { RedisPresence } from './redis-presence.js';
import { RedisRequestKeys } from './request-keys.js';
import { RoomSubscriber } from './room-subscriber.js';
import { HISTORY_SCRIPT, historyMessages, isUnpublished, runScript } from './scripts.js';
import { RedisUserSlots } from './user-slots.js';

/**
 * Options of a `RedisEngine`.
 *
 * @example
 * ```ts
 * const options: RedisEngineOptions = { redis: process.env.REDIS_URL!, history: { size: 500 } };
 * ```
 */
export interface RedisEngineOptions {
	/**
	 * A Redis URL, ioredis options, an ioredis client or `Cluster` of the app's (used for commands,
	 * left open by `close()`), or `{ cluster: [startup nodes], options? }` for a Redis Cluster (≥ 7:
	 * rooms are spread over its slots, messages go out with sharded pub/sub).
	 */
	redis: RedisTarget;
	/** Prefix of every key and channel (default `'runesocket:'`). */
	prefix?: string;
	/** How much history each room keeps (default: the last 100 messages, 5 minutes each). */
	history?: HistoryOptions;
	/** Milliseconds a room's offset and epoch live after its last publish (default 24 h). */
	retention?: number;
	/** Milliseconds a Redis command may take before `publish`, `history` or `subscribe` rejects (default 5 000). */
	timeout?: number;
	/**
	 * Milliseconds between pings on the subscriber connection (default 15 000; 0 = none). A ping not
	 * answered before the next one drops the connection, which reconnects, resubscribes and resyncs:
	 * a subscriber silently stuck (e.g. after a failover) does not stay "healthy". Not used with a
	 * cluster: there each node's subscriber ends with its node, and the engine then resubscribes.
	 */
	pingInterval?: number;
	/**
	 * Milliseconds a process's presence entries and per-user connection slots outlive it when it
	 * ends without `close()` (a crash): each process renews its entries every third of it, and the
	 * survivors drop (and announce) the entries of a process that stopped, and no longer count its
	 * slots (default 15 000).
	 */
	presenceTtl?: number;
	/**
	 * Receives the engine's troubles: Redis connection errors, a `deliver` or `resync` handler that
	 * threw, an unreadable message. Default: logged with `console.error`, once per outage for
	 * connection errors.
	 */
	onError?: (error: Error) => void;
}

const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_PING_INTERVAL_MS = 15_000;
const DEFAULT_PRESENCE_TTL_MS = 15_000;

function checkMs(name: string, value: number, allowZero: boolean): number {
	if (typeof value != 'number' || !Number.isFinite(value) || value < 0 || (!allowZero && !value)) {
		throw new TypeError(
			`RedisEngine ${name} must be a finite number of ms ${allowZero ? '>= 0' : '> 0'}, not ${String(value)}`
		);
	}
	return value;
}

/**
 * An engine on Redis, so several server processes share rooms: each process subscribes the channel
 * of a room only while it has members there; a publish goes through one Lua script that assigns the
 * room's next offset (and its epoch, new whenever Redis lost the room), keeps the message in the
 * room's stream and publishes it, atomically. `history` reads that stream for clients that missed
 * messages.
 *
 * It survives Redis trouble: errors never crash the process, `publish` fails at once while Redis is
 * down, and once the subscriber connection is back it resubscribes every room and calls the
 * server's `resync` (what was published meanwhile never reached this process). `healthy` and
 * `onHealthChange` tell whether both connections are up.
 *
 * @example
 * ```ts
 * import { createSocketServer } from 'runesocket/server';
 * import { RedisEngine } from 'runesocket/redis';
 *
 * const engine = new RedisEngine({ redis: 'redis://127.0.0.1:6379', history: { size: 200 } });
 * engine.onHealthChange((healthy) => console.log('redis', healthy ? 'up' : 'down'));
 * const server = createSocketServer({ engine, routes: [{ path: '/ws' }] });
 * ```
 */
export class RedisEngine implements Engine {
	readonly #commands: RedisConnection;
	readonly #ownsCommands: boolean;
	readonly #prefix: string;
	readonly #history: HistoryOptions | undefined;
	readonly #retention: number;
	readonly #timeout: number;
	readonly #onError: ((error: Error) => void) | undefined;
	readonly #health: HealthSignal;
	readonly #publishes: PublishQueue;
	/**
	 * Presence, shared by every process on this Redis: who is in which room, merged by user; changes
	 * go to the `presence` handler of every process subscribed to the room.
	 */
	readonly #presence: RedisPresence;
	/** The subscriber connection and the rooms it subscribes. */
	readonly #subscriber: RoomSubscriber;
	/** Per-user connection slots, shared by every process on this Redis. */
	readonly #userSlots: RedisUserSlots;
	/** Request keys and their answers (exactly-once requests), shared by every process on this Redis. */
	readonly #requestKeys: RedisRequestKeys;
	/** This process's id on the control channel: it skips its own commands, run when sent. */
	readonly #process = randomBytes(9).toString('base64url');
	readonly #sharded: boolean;
	/** Listeners put on the app's own client, taken off by `close()`. */
	readonly #detach: (() => void)[] = [];
	#handlers: EngineHandlers | undefined;
	#started: Promise<void> | undefined;
	#closed: Promise<void> | undefined;
	/** Connection errors are logged once per outage when there is no `onError`. */
	#loggedOutage = false;

	constructor(options: RedisEngineOptions) {
		if (!options?.redis) {
			throw new TypeError(
				"RedisEngine needs a Redis URL, options or client: new RedisEngine({ redis: 'redis://127.0.0.1:6379' })"
			);
		}
		checkHistoryOptions(options.history);
		this.#history = options.history;
		this.#prefix = checkPrefix(options.prefix ?? DEFAULT_PREFIX, 'RedisEngine');
		this.#retention = checkMs('retention', options.retention ?? DEFAULT_RETENTION_MS, false);
		this.#timeout = checkMs('timeout', options.timeout ?? DEFAULT_TIMEOUT_MS, false);
		const pingInterval = checkMs(
			'pingInterval',
			options.pingInterval ?? DEFAULT_PING_INTERVAL_MS,
			true
		);
		this.#onError = options.onError;
		this.#health = new HealthSignal((error) => this.#report(errorFrom(error)));

		const { commands, subscriber, ownsCommands } = createConnections(options.redis);
		this.#commands = commands;
		this.#ownsCommands = ownsCommands;
		const sharded = (this.#sharded = isCluster(subscriber));
		const ttl = checkMs('presenceTtl', options.presenceTtl ?? DEFAULT_PRESENCE_TTL_MS, false);
		this.#publishes = new PublishQueue({
			redis: commands,
			keys: (room) => roomKeys(this.#prefix, room),
			history: this.#history,
			retention: this.#retention,
			timeout: this.#timeout,
			failure: (room, error) => commandFailure(`publish to "${room}"`, error, this.#commands)
		});
		this.#presence = new RedisPresence({
			redis: commands,
			sharded,
			prefix: this.#prefix,
			ttl,
			retention: this.#retention,
			timeout: this.#timeout,
			changed: (room, change) => this.#handlers?.presence?.(room, change),
			subscription: (room) => this.#subscriber.subscription(room),
			report: (error) => this.#report(error)
		});
		this.#userSlots = new RedisUserSlots({
			redis: commands,
			prefix: this.#prefix,
			ttl,
			timeout: this.#timeout,
			report: (error) => this.#report(error)
		});
		this.#requestKeys = new RedisRequestKeys({
			redis: commands,
			prefix: this.#prefix,
			timeout: this.#timeout
		});

		this.#watchCommands(commands);
		// Every client gets an 'error' listener: an ioredis client without one crashes the process.
		subscriber.on('error', (error: Error) => this.#connectionError('subscriber', error));
		this.#subscriber = new RoomSubscriber({
			connection: subscriber,
			prefix: this.#prefix,
			timeout: this.#timeout,
			pingInterval,
			received: (room, text) => this.#deliver(room, text),
			control: {
				channel: controlChannel(this.#prefix),
				received: (text) => this.#commanded(text)
			},
			refused: (room, error) => this.#tellRefused(room, error),
			changed: () => this.#updateHealth(),
			recovered: () => this.#resync(),
			report: (error) => this.#report(error)
		});
	}

	/**
	 * Presence across every process on this Redis (see `EnginePresence`): routes with a `presence`
	 * option use it. A process that dies leaves no ghosts: its entries go `presenceTtl` ms later.
	 */
	get presence(): EnginePresence {
		return this.#presence;
	}

	/**
	 * Per-user connection slots across every process on this Redis (see `EngineUserSlots`): routes
	 * with `maxConnectionsPerUser` use them. A process that dies frees its slots `presenceTtl` ms
	 * later.
	 */
	get userSlots(): RedisUserSlots {
		return this.#userSlots;
	}

	/**
	 * Request keys and their answers across every process on this Redis (see `EngineRequestKeys`):
	 * a keyed request runs once whichever process it lands on, and a repeat gets its first answer.
	 * A claim whose process died is claimable again once its lease ends (Redis time).
	 */
	get requestKeys(): EngineRequestKeys {
		return this.#requestKeys;
	}

	/** Whether both connections are up and every room is subscribed. */
	get healthy(): boolean {
		return this.#health.value;
	}

	/**
	 * Calls `listener` with the new value whenever `healthy` changes; returns the function that stops
	 * it.
	 *
	 * @example
	 * ```ts
	 * const off = engine.onHealthChange((healthy) => console.log(healthy ? 'Redis is back' : 'Redis is down'));
	 * off();
	 * ```
	 */
	onHealthChange(listener: (healthy: boolean) => void): () => void {
		return this.#health.listen(listener);
	}

	/**
	 * Runs `command` here at once, then publishes it on the control channel (SPUBLISH on a
	 * cluster), where every other process on this Redis hears it and runs it. Resolves once Redis
	 * took it; rejects at once while Redis is down, or after `timeout` (it ran here all the same).
	 */
	async command(command: EngineCommand): Promise<void> {
		this.#runCommand(command);
		const channel = controlChannel(this.#prefix);
		const text = controlMessage(this.#process, command);
		await this.#command(`send a ${command.type} command`, () =>
			this.#sharded ? this.#commands.spublish(channel, text) : this.#commands.publish(channel, text)
		);
	}

	/**
	 * Connects both connections; resolves once they are ready. Rejects with a clear Error when Redis
	 * cannot be reached (the engine is then closed).
	 */
	start(handlers: EngineHandlers): Promise<void> {
		this.#handlers = handlers;
		this.#started ??= this.#connect();
		return this.#started;
	}

	/**
	 * Subscribes the room's channel; resolves once Redis confirmed it. While Redis is down it rejects
	 * at once, but the room is remembered: it is subscribed as soon as Redis is back (then `resync`).
	 * When Redis refuses the channel (an ACL) the room is given up: the server's `refused` handler is
	 * called, and the room is not asked for again for a while (1 s, doubling up to 30 s): subscribing
	 * it meanwhile is refused at once.
	 */
	subscribe(room: string): Promise<void> {
		return this.#subscriber.subscribe(room);
	}

	/** Unsubscribes the room's channel (at once while Redis is down: its subscriptions are gone anyway). */
	unsubscribe(room: string): Promise<void> {
		return this.#subscriber.unsubscribe(room);
	}

	/**
	 * Publishes through Redis to every process subscribed to the room, this one included. Object
	 * messages get the room's next offset and its epoch and are kept in its history (one Lua script,
	 * atomic); other messages, and every message to the room '*', go as they are. The publishes of
	 * one event-loop turn go to Redis together (see `PublishQueue`). Rejects at once while Redis is
	 * down, or after `timeout` when it does not answer; the message may then still have been
	 * published.
	 */
	publish(
		room: string,
		message: unknown,
		options: PublishOptions = {}
	): Promise<StreamPosition | undefined> {
		try {
			this.#checkCommands(room, 'publish to');
			return this.#publishes.publish(room, message, options.except);
		} catch (error) {
			return Promise.reject(errorFrom(error));
		}
	}

	/**
	 * The room's position and, when `since` is recoverable, every message after it (see
	 * `Engine.history`). Reading writes nothing: a room never published to is at offset 0 of an
	 * "unpublished" epoch (`~<Redis ms>`), and a position read so is recovered from the first
	 * message of the epoch its first publish begins (see `HISTORY_SCRIPT`).
	 */
	async history(
		room: string,
		since?: StreamPosition,
		options: HistoryReadOptions = {}
	): Promise<HistoryResult> {
		if (room == EVERYONE) return everyoneHistory(since);
		const valid = since !== undefined && isStreamPosition(since);
		const policy = historyPolicy(this.#history, room);
		const keys = roomKeys(this.#prefix, room);
		const reply = (await this.#command(`read the history of "${room}"`, () =>
			runScript(
				this.#commands,
				HISTORY_SCRIPT,
				[keys.position, keys.history],
				[
					newEpoch(),
					this.#retention,
					valid ? since.epoch : '',
					valid ? since.offset : 0,
					policy.size,
					Math.ceil(policy.ttl),
					options.delivered ? '1' : '0'
				]
			)
		)) as [number, string, unknown?];
		const position = { offset: Number(reply[0]), epoch: String(reply[1]) };
		// The script answers entries for a position of before the first publish only when they follow it.
		const answer =
			valid && isUnpublished(since) ? undefined : historyWithoutMessages(position, since);
		if (answer) return answer;
		const messages = historyMessages(reply[2], since!.offset, position.offset);
		return messages ? { recovered: true, position, messages } : notRecovered(position);
	}

	/** Quits both connections (the app's own client, if it gave one, stays open). */
	close(): Promise<void> {
		this.#closed ??= this.#shutDown();
		return this.#closed;
	}

	async #shutDown(): Promise<void> {
		this.#subscriber.stop();
		this.#userSlots.close();
		await this.#presence.close();
		this.#handlers = undefined;
		this.#health.set(false);
		await Promise.all([
			this.#subscriber.quit(),
			this.#ownsCommands ? quit(this.#commands, this.#timeout) : undefined
		]);
		for (const detach of this.#detach.splice(0)) detach();
	}

	async #connect(): Promise<void> {
		try {
			await withDeadline(
				Promise.all([connect(this.#commands), this.#subscriber.connect()]),
				Math.max(this.#timeout, 10_000),
				'Redis'
			);
			await this.#subscriber.resubscribed();
			this.#presence.start();
			this.#userSlots.start();
		} catch (error) {
			await this.close();
			throw new Error(`runesocket/redis: cannot connect to Redis: ${errorFrom(error).message}`, {
				cause: error
			});
		}
	}

	/**
	 * Listens to the command connection: its status makes `healthy`, and a (re)connection or, on a
	 * cluster, a new node may not know the publish script, and may take the request-key answers
	 * Redis could not take while it was gone.
	 */
	#watchCommands(commands: RedisConnection): void {
		const onError = (error: Error) => this.#connectionError('commands', error);
		const onStatus = () => this.#updateHealth();
		const reconnected = () => {
			this.#publishes.reconnected();
			this.#requestKeys.reconnected();
		};
		const statuses = ['ready', 'close', 'reconnecting', 'end'] as const;
		const nodeEvents = isCluster(commands) ? (['+node'] as const) : [];
		commands.on('error', onError);
		commands.on('ready', reconnected);
		for (const status of statuses) commands.on(status, onStatus);
		for (const event of nodeEvents) commands.on(event, reconnected);
		if (this.#ownsCommands) return;
		this.#detach.push(() => {
			commands.off('error', onError);
			commands.off('ready', reconnected);
			for (const status of statuses) commands.off(status, onStatus);
			for (const event of nodeEvents) commands.off(event, reconnected);
		});
	}

	/** Delivers the messages of a channel message to the server, and hands its presence changes on. */
	#deliver(room: string, text: string): void {
		const handlers = this.#handlers;
		if (!handlers) return;
		let envelopes: (Envelope | PresenceEnvelope)[];
		try {
			envelopes = parseEnvelopes(text);
		} catch (error) {
			return this.#report(errorFrom(error));
		}
		for (const envelope of envelopes) {
			try {
				if ('presence' in envelope) this.#presence.received(room, envelope.presence);
				else handlers.deliver(room, envelope.message, envelope.except);
			} catch (error) {
				this.#report(errorFrom(error));
			}
		}
	}

	/** A control channel message: another process's command, run here. */
	#commanded(text: string): void {
		try {
			const { from, command } = parseControlMessage(text);
			if (from != this.#process) this.#runCommand(command);
		} catch (error) {
			this.#report(errorFrom(error));
		}
	}

	#runCommand(command: EngineCommand): void {
		try {
			this.#handlers?.command?.(command);
		} catch (error) {
			this.#report(errorFrom(error));
		}
	}

	/** Tells the server (its `refused` handler) that Redis refused the room's channel. */
	#tellRefused(room: string, error: Error): void {
		try {
			this.#handlers?.refused?.(room, error);
		} catch (handlerError) {
			this.#report(errorFrom(handlerError));
		}
	}

	/** Every room is subscribed again after a gap: the server and presence recover what they missed. */
	#resync(): void {
		try {
			this.#handlers?.resync?.();
		} catch (error) {
			this.#report(errorFrom(error));
		}
		this.#presence.resync();
	}

	/** Runs a command on the command connection: at once rejected while down, bounded by `timeout`. */
	#command<T>(what: string, run: () => Promise<T>): Promise<T> {
		this.#checkCommands(undefined, what);
		return commandWithin(this.#commands, what, this.#timeout, run);
	}

	/**
	 * Throws when the engine is closed or the command connection is not ready; the error says it
	 * cannot `action` (+ ` "room"` when a room is given).
	 */
	#checkCommands(room: string | undefined, action: string): void {
		if (!this.#closed && this.#commands.status == 'ready') return;
		const what = room === undefined ? action : `${action} "${room}"`;
		if (this.#closed) throw new Error(`runesocket/redis: cannot ${what}: the engine is closed`);
		throwUnlessReady(this.#commands, what, 'the engine is not started');
	}

	#updateHealth(): void {
		const healthy =
			!this.#closed && this.#commands.status == 'ready' && this.#subscriber.subscribed;
		if (healthy) this.#loggedOutage = false;
		this.#health.set(healthy);
	}

	#connectionError(connection: 'commands' | 'subscriber', error: Error): void {
		if (this.#onError) return this.#report(error);
		if (this.#loggedOutage) return;
		this.#loggedOutage = true;
		console.error(`[runesocket/redis] ${connection} connection:`, error.message);
	}

	#report(error: Error): void {
		try {
			if (this.#onError) return this.#onError(error);
		} catch (handlerError) {
			error = errorFrom(handlerError);
		}
		console.error('[runesocket/redis]', error);
	}
}
