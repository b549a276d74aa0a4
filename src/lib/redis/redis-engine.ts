import { isRecord } from '../protocol/envelope.js';
import {
	EVERYONE,
	type Engine,
	type EngineHandlers,
	type EnginePresence,
	type HistoryOptions,
	type HistoryReadOptions,
	type HistoryResult,
	type PublishOptions,
	type StreamPosition
} from '../engine/engine.js';
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
	keepShardChannels,
	quit,
	type RedisConnection,
	type RedisTarget
} from './connections.js';
import { commandFailure, isChannelRefusal, throwUnlessReady } from './failures.js';
import { errorFrom } from '../engine/errors.js';
import { HealthSignal } from './health.js';
import { DEFAULT_PREFIX, DEFAULT_RETENTION_MS, checkPrefix, roomKeys } from './keys.js';
import { parseEnvelopes, type Envelope, type PresenceEnvelope } from './payload.js';
import { PublishQueue } from './publish-queue.js';
import { RedisPresence } from './redis-presence.js';
import { HISTORY_SCRIPT, isUnpublished, runScript } from './scripts.js';
import { withDeadline } from '../engine/errors.js';

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
	 * Milliseconds a process's presence entries outlive it when it ends without `close()` (a crash):
	 * each process renews its entries every third of it, and the survivors drop (and announce) the
	 * entries of a process that stopped (default 15 000).
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
/**
 * After Redis refused to resubscribe a (re)connected subscriber, the engine drops it this long
 * later, so it reconnects and tries again; each next refusal in a row waits twice as long, up to
 * the max. ioredis restarts its own reconnection delay from the bottom after every successful
 * connection, so without these a refusal that lasts (an ACL, a Redis out of memory) would be
 * retried every 50–250 ms, for good.
 */
const RESUBSCRIBE_RETRY_FIRST_MS = 100;
const RESUBSCRIBE_RETRY_MAX_MS = 5_000;
/**
 * A room whose channel Redis refused (an ACL) is not asked for again before this long; each next
 * refusal in a row waits twice as long, up to the max: joins meanwhile are refused at once, so a
 * room that can never be subscribed costs Redis one SUBSCRIBE per delay, whoever asks.
 */
const REFUSED_RETRY_FIRST_MS = 1_000;
const REFUSED_RETRY_MAX_MS = 30_000;
/** Refused rooms remembered at most (the oldest go first): room names may come from clients. */
const MAX_REMEMBERED_REFUSALS = 1_000;

/** A room Redis refused: why, how many times in a row, and when it may be asked for again. */
interface Refusal {
	readonly error: Error;
	readonly refusals: number;
	readonly retryAt: number;
}

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
	readonly #subscriber: RedisConnection;
	/** A Redis Cluster: rooms are subscribed with SSUBSCRIBE, on the node serving their slot. */
	readonly #sharded: boolean;
	readonly #ownsCommands: boolean;
	readonly #prefix: string;
	readonly #history: HistoryOptions | undefined;
	readonly #retention: number;
	readonly #timeout: number;
	readonly #pingInterval: number;
	readonly #onError: ((error: Error) => void) | undefined;
	readonly #health: HealthSignal;
	readonly #publishes: PublishQueue;
	/**
	 * Presence, shared by every process on this Redis: who is in which room, merged by user; changes
	 * go to the `presence` handler of every process subscribed to the room.
	 */
	readonly #presence: RedisPresence;
	/** Channel → room, for every room this process wants (even while Redis is down). */
	readonly #rooms = new Map<string, string>();
	/** Room → its subscription in progress (a presence read waits for it). */
	readonly #subscriptions = new Map<string, Promise<void>>();
	/** Channel → Redis' refusal of it: asked for again only after its `retryAt`. */
	readonly #refusals = new Map<string, Refusal>();
	/** Listeners put on the app's own client, taken off by `close()`. */
	readonly #detach: (() => void)[] = [];
	#handlers: EngineHandlers | undefined;
	#started: Promise<void> | undefined;
	#closed: Promise<void> | undefined;
	/** The subscriber is connected and has (re)subscribed every room. */
	#subscribed = false;
	/** The subscriber was up before: its next `ready` is a recovery, worth a resync. */
	#wasSubscribed = false;
	/** The subscriber's current (re)subscription, awaited by `start()`; never rejects. */
	#resubscribing: Promise<void> = Promise.resolve();
	/** A resubscription waits to run after the current one (they never overlap). */
	#resubscribeQueued = false;
	/** Subscriber nodes a cluster lost so far: a resubscription that saw one go is not complete. */
	#shardLosses = 0;
	/**
	 * Resolves at the subscriber's first `ready` event, which a cluster client emits only after its
	 * `connect()` resolved: `start()` waits for the subscription that event begins.
	 */
	readonly #firstSession: Promise<void>;
	#firstSessionBegan: () => void = () => {};
	/** How many times the subscriber became ready: tells a delayed retry whether it is still current. */
	#subscriberSessions = 0;
	/** Resubscriptions Redis refused in a row. */
	#refusedResubscriptions = 0;
	#resubscribeRetryTimer: ReturnType<typeof setTimeout> | undefined;
	#pingTimer: ReturnType<typeof setTimeout> | undefined;
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
		this.#pingInterval = checkMs(
			'pingInterval',
			options.pingInterval ?? DEFAULT_PING_INTERVAL_MS,
			true
		);
		this.#onError = options.onError;
		this.#health = new HealthSignal((error) => this.#report(errorFrom(error)));

		const { commands, subscriber, ownsCommands } = createConnections(options.redis);
		this.#commands = commands;
		this.#subscriber = subscriber;
		this.#ownsCommands = ownsCommands;
		this.#sharded = isCluster(subscriber);
		this.#publishes = new PublishQueue({
			redis: commands,
			keys: (room) => roomKeys(this.#prefix, room),
			history: this.#history,
			retention: this.#retention,
			timeout: this.#timeout,
			failure: (room, error) => this.#failure(`publish to "${room}"`, error, this.#commands)
		});

		this.#presence = new RedisPresence({
			redis: commands,
			sharded: this.#sharded,
			prefix: this.#prefix,
			ttl: checkMs('presenceTtl', options.presenceTtl ?? DEFAULT_PRESENCE_TTL_MS, false),
			retention: this.#retention,
			timeout: this.#timeout,
			changed: (room, change) => this.#handlers?.presence?.(room, change),
			subscription: (room) => this.#subscriptions.get(room),
			report: (error) => this.#report(error)
		});

		// Every client gets an 'error' listener: an ioredis client without one crashes the process.
		const onCommandsError = (error: Error) => this.#connectionError('commands', error);
		const onCommandsStatus = () => this.#updateHealth();
		const onCommandsReady = () => this.#publishes.reconnected();
		commands.on('error', onCommandsError);
		commands.on('ready', onCommandsReady);
		for (const status of ['ready', 'close', 'reconnecting', 'end'] as const) {
			commands.on(status, onCommandsStatus);
		}
		if (!ownsCommands) {
			this.#detach.push(() => {
				commands.off('error', onCommandsError);
				commands.off('ready', onCommandsReady);
				for (const status of ['ready', 'close', 'reconnecting', 'end'] as const) {
					commands.off(status, onCommandsStatus);
				}
			});
		}
		subscriber.on('error', (error: Error) => this.#connectionError('subscriber', error));
		this.#firstSession = new Promise((resolve) => (this.#firstSessionBegan = resolve));
		subscriber.on('ready', () => {
			this.#subscriberSessions++;
			this.#queueResubscribe();
			this.#firstSessionBegan();
		});
		subscriber.on('close', () => {
			this.#subscribed = false;
			this.#stopPinging();
			this.#updateHealth();
		});
		const messageEvent = this.#sharded ? 'smessage' : 'message';
		subscriber.on(messageEvent, (channel: string, text: string) => this.#receive(channel, text));
		if (this.#sharded) this.#watchShards(subscriber, commands);
	}

	/**
	 * Presence across every process on this Redis (see `EnginePresence`): routes with a `presence`
	 * option use it. A process that dies leaves no ghosts: its entries go `presenceTtl` ms later.
	 */
	get presence(): EnginePresence {
		return this.#presence;
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
	 * const off = engine.onHealthChange((healthy) => metrics.gauge('redis_up', healthy ? 1 : 0));
	 * off();
	 * ```
	 */
	onHealthChange(listener: (healthy: boolean) => void): () => void {
		return this.#health.listen(listener);
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
	async subscribe(room: string): Promise<void> {
		if (this.#closed)
			throw new Error(`runesocket/redis: cannot subscribe "${room}": the engine is closed`);
		const { channel } = roomKeys(this.#prefix, room);
		this.#throwIfRefused(room, channel);
		this.#rooms.set(channel, room);
		this.#unavailable(this.#subscriber, `subscribe "${room}"`);
		const subscription = withDeadline(this.#subscribeChannels([channel]), this.#timeout, 'Redis');
		this.#subscriptions.set(room, subscription);
		try {
			await subscription;
			this.#refusals.delete(channel);
		} catch (error) {
			if (isChannelRefusal(error)) throw this.#refuse(room, channel, error);
			throw this.#failure(`subscribe "${room}"`, error, this.#subscriber);
		} finally {
			if (this.#subscriptions.get(room) === subscription) this.#subscriptions.delete(room);
		}
	}

	/** Unsubscribes the room's channel (at once while Redis is down: its subscriptions are gone anyway). */
	async unsubscribe(room: string): Promise<void> {
		const { channel } = roomKeys(this.#prefix, room);
		if (!this.#rooms.delete(channel) || this.#subscriber.status != 'ready') return;
		try {
			const subscriber = this.#subscriber;
			await withDeadline(
				this.#sharded ? subscriber.sunsubscribe(channel) : subscriber.unsubscribe(channel),
				this.#timeout,
				'Redis'
			);
		} catch (error) {
			throw this.#failure(`unsubscribe "${room}"`, error, this.#subscriber);
		}
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
		const messages = this.#consecutive(reply[2], since!.offset, position.offset);
		return messages ? { recovered: true, position, messages } : notRecovered(position);
	}

	/** Quits both connections (the app's own client, if it gave one, stays open). */
	close(): Promise<void> {
		this.#closed ??= this.#shutDown();
		return this.#closed;
	}

	async #shutDown(): Promise<void> {
		await this.#presence.close();
		this.#handlers = undefined;
		this.#rooms.clear();
		this.#refusals.clear();
		this.#stopPinging();
		clearTimeout(this.#resubscribeRetryTimer);
		this.#health.set(false);
		await Promise.all([
			quit(this.#subscriber, this.#timeout),
			this.#ownsCommands ? quit(this.#commands, this.#timeout) : undefined
		]);
		for (const detach of this.#detach.splice(0)) detach();
	}

	async #connect(): Promise<void> {
		try {
			await withDeadline(
				Promise.all([connect(this.#commands), connect(this.#subscriber), this.#firstSession]),
				Math.max(this.#timeout, 10_000),
				'Redis'
			);
			await this.#resubscribing;
			if (!this.#subscribed) throw new Error('the subscriber connection dropped while starting');
			this.#presence.start();
		} catch (error) {
			await this.close();
			throw new Error(`runesocket/redis: cannot connect to Redis: ${errorFrom(error).message}`, {
				cause: error
			});
		}
	}

	/**
	 * Runs a resubscription after the current one (at once when none runs): two at a time would both
	 * subscribe every room, and the first to end would report the engine healthy while the other may
	 * still fail. Requests made while one waits are that one.
	 */
	#queueResubscribe(): void {
		if (this.#resubscribeQueued) return;
		this.#resubscribeQueued = true;
		const session = this.#subscriberSessions;
		const shardLosses = this.#shardLosses;
		this.#resubscribing = this.#resubscribing
			.then(() => {
				this.#resubscribeQueued = false;
				// The one before it subscribed every room and nothing was lost since: running again would
				// only subscribe them all twice (and, on a cluster, list them twice in ioredis' record).
				const unchanged = session == this.#subscriberSessions && shardLosses == this.#shardLosses;
				if (this.#subscribed && unchanged) return;
				return this.#resubscribe();
			})
			// Awaited only by start(): a failure here must not end the process as an unhandled rejection.
			.catch((error) => this.#report(errorFrom(error)));
	}

	/** The subscriber (re)connected: subscribe every wanted room, then report healthy and resync. */
	async #resubscribe(): Promise<void> {
		const recovering = this.#wasSubscribed;
		const shardLosses = this.#shardLosses;
		try {
			await withDeadline(this.#subscribeWanted(), this.#timeout, 'Redis');
		} catch (error) {
			this.#report(this.#failure('resubscribe after reconnecting', error));
			// A lost connection reconnects by itself; a refusal needs a fresh one, later. A cluster
			// stays ready while one of its nodes is lost: it is tried again, later.
			if (!this.#closed && this.#subscriber.status == 'ready') this.#reconnectSubscriberLater();
			return;
		}
		if (this.#closed || this.#subscriber.status != 'ready') return;
		// A node lost meanwhile took some of these subscriptions with it: not done yet.
		if (shardLosses != this.#shardLosses) return this.#reconnectSubscriberLater();
		this.#refusedResubscriptions = 0;
		this.#subscribed = this.#wasSubscribed = true;
		this.#updateHealth();
		this.#schedulePing();
		if (!recovering) return;
		try {
			this.#handlers?.resync?.();
		} catch (error) {
			this.#report(errorFrom(error));
		}
		this.#presence.resync();
	}

	/** Drops the subscriber after a delay that grows with every refusal in a row, so it reconnects. */
	#reconnectSubscriberLater(): void {
		const delay = Math.min(
			RESUBSCRIBE_RETRY_FIRST_MS * 2 ** this.#refusedResubscriptions,
			RESUBSCRIBE_RETRY_MAX_MS
		);
		this.#refusedResubscriptions++;
		const session = this.#subscriberSessions;
		clearTimeout(this.#resubscribeRetryTimer);
		this.#resubscribeRetryTimer = setTimeout(() => {
			this.#resubscribeRetryTimer = undefined;
			// Reconnected meanwhile: that session resubscribes on its own.
			if (this.#closed || session != this.#subscriberSessions) return;
			if (this.#subscriber.status != 'ready') return;
			if (this.#sharded) this.#resubscribeShards();
			else this.#subscriber.disconnect(true);
		}, delay);
		this.#resubscribeRetryTimer.unref?.();
	}

	/**
	 * Subscribes every wanted room again, in one SUBSCRIBE on one Redis. A room whose channel Redis
	 * refuses (an ACL) must not keep the others from their messages: when Redis refuses, each room is
	 * subscribed on its own, the refused ones are given up (`refused`) and the others go on. Rejects
	 * when any other room failed (the connection was lost): the whole resubscription is retried.
	 */
	async #subscribeWanted(): Promise<void> {
		const channels = [...this.#rooms.keys()];
		try {
			if (!channels.length) return;
			if (!this.#sharded) {
				try {
					return await this.#subscribeChannels(channels);
				} catch (error) {
					if (!isChannelRefusal(error)) throw error;
				}
			}
			await this.#subscribeEach(channels);
		} finally {
			if (this.#sharded) keepShardChannels(this.#subscriber, new Set(this.#rooms.keys()));
		}
	}

	/** Subscribes each channel on its own; gives up those Redis refuses, rejects if another failed. */
	async #subscribeEach(channels: readonly string[]): Promise<void> {
		const outcomes = await Promise.allSettled(
			channels.map((channel) => this.#subscribeChannels([channel]))
		);
		let failure: unknown;
		outcomes.forEach((outcome, index) => {
			if (outcome.status == 'fulfilled') return;
			const channel = channels[index];
			const room = this.#rooms.get(channel);
			if (!isChannelRefusal(outcome.reason)) failure ??= outcome.reason;
			else if (room !== undefined) this.#report(this.#refuse(room, channel, outcome.reason));
		});
		if (failure !== undefined) throw failure;
	}

	/**
	 * Redis refused the room's channel: the room is given up (no resubscription asks for it), the
	 * server is told (`refused`), and it is not asked for again before a delay that doubles with each
	 * refusal in a row. Returns the error that says so.
	 */
	#refuse(room: string, channel: string, cause: unknown): Error {
		if (this.#rooms.get(channel) === room) this.#rooms.delete(channel);
		if (this.#sharded) keepShardChannels(this.#subscriber, new Set(this.#rooms.keys()));
		const refusals = (this.#refusals.get(channel)?.refusals ?? 0) + 1;
		const delay = Math.min(REFUSED_RETRY_FIRST_MS * 2 ** (refusals - 1), REFUSED_RETRY_MAX_MS);
		const error = new Error(
			`runesocket/redis: cannot subscribe "${room}": Redis refused its channel (${errorFrom(cause).message}); asked again after ${delay} ms`,
			{ cause }
		);
		this.#refusals.delete(channel);
		this.#refusals.set(channel, { error, refusals, retryAt: Date.now() + delay });
		if (this.#refusals.size > MAX_REMEMBERED_REFUSALS) {
			this.#refusals.delete(this.#refusals.keys().next().value!);
		}
		return this.#tellRefused(room, error);
	}

	/** Refuses at once a room Redis refused less than its delay ago (telling the server again). */
	#throwIfRefused(room: string, channel: string): void {
		const refusal = this.#refusals.get(channel);
		if (refusal && Date.now() < refusal.retryAt) throw this.#tellRefused(room, refusal.error);
	}

	#tellRefused(room: string, error: Error): Error {
		try {
			this.#handlers?.refused?.(room, error);
		} catch (handlerError) {
			this.#report(errorFrom(handlerError));
		}
		return error;
	}

	/**
	 * Subscribes `channels`: SUBSCRIBE on one Redis; on a cluster one SSUBSCRIBE per channel, since
	 * one SSUBSCRIBE may only name channels of one slot.
	 */
	async #subscribeChannels(channels: readonly string[]): Promise<void> {
		const subscriber = this.#subscriber;
		if (!this.#sharded) {
			await subscriber.subscribe(...channels);
			return;
		}
		await Promise.all(channels.map((channel) => subscriber.ssubscribe(channel)));
	}

	/**
	 * On a cluster, each master's slots have their own subscriber connection, which ends with its
	 * node (a crash, a failover, a reshard) while the cluster client stays ready: what was published
	 * on that node meanwhile never reached this process. The engine then reports itself unhealthy,
	 * subscribes every room again once ioredis has a subscriber for each slot (retrying until it
	 * does), and resyncs. The command client's new nodes may not know the publish script.
	 */
	#watchShards(subscriber: RedisConnection, commands: RedisConnection): void {
		const lost = () => {
			this.#shardLosses++;
			if (!this.#subscribed || this.#closed) return;
			this.#subscribed = false;
			this.#updateHealth();
			this.#reconnectSubscriberLater();
		};
		subscriber.on('-node', lost);
		subscriber.on('-subscriber', lost);
		subscriber.on('subscribersReady', () => {
			if (!this.#subscribed && this.#wasSubscribed) this.#resubscribeShards();
		});
		const forgetScript = () => this.#publishes.reconnected();
		commands.on('+node', forgetScript);
		if (!this.#ownsCommands) this.#detach.push(() => commands.off('+node', forgetScript));
	}

	/** Subscribes every room again on a cluster whose subscriber lost a node. */
	#resubscribeShards(): void {
		if (this.#closed || this.#subscribed || this.#subscriber.status != 'ready') return;
		this.#queueResubscribe();
	}

	#receive(channel: string, text: string): void {
		const room = this.#rooms.get(channel);
		const handlers = this.#handlers;
		if (room === undefined || !handlers) return;
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

	/** The stream entries (newest first) as messages after `since`, or undefined if any is missing. */
	#consecutive(
		entries: unknown,
		since: number,
		current: number
	): Record<string, unknown>[] | undefined {
		if (!Array.isArray(entries) || entries.length != current - since) return undefined;
		const messages: Record<string, unknown>[] = [];
		for (let index = entries.length - 1; index >= 0; index--) {
			const fields = (entries[index] as [string, string[]] | undefined)?.[1];
			if (!Array.isArray(fields)) return undefined;
			let offset: number | undefined;
			let text: string | undefined;
			for (let field = 0; field + 1 < fields.length; field += 2) {
				if (fields[field] == 'offset') offset = Number(fields[field + 1]);
				else if (fields[field] == 'message') text = fields[field + 1];
			}
			if (offset !== since + messages.length + 1 || text === undefined) return undefined;
			try {
				const message = JSON.parse(text) as unknown;
				if (!isRecord(message)) return undefined;
				messages.push(message);
			} catch {
				return undefined;
			}
		}
		return messages;
	}

	/** Runs a command on the command connection: at once rejected while down, bounded by `timeout`. */
	async #command<T>(what: string, run: () => Promise<T>): Promise<T> {
		this.#checkCommands(undefined, what);
		try {
			return await withDeadline(run(), this.#timeout, 'Redis');
		} catch (error) {
			throw this.#failure(what, error, this.#commands);
		}
	}

	/**
	 * Throws when the engine is closed or the command connection is not ready; the error says it
	 * cannot `action` (+ ` "room"` when a room is given).
	 */
	#checkCommands(room: string | undefined, action: string): void {
		if (!this.#closed && this.#commands.status == 'ready') return;
		const what = room === undefined ? action : `${action} "${room}"`;
		if (this.#closed) throw new Error(`runesocket/redis: cannot ${what}: the engine is closed`);
		this.#unavailable(this.#commands, what);
	}

	#unavailable(redis: RedisConnection, what: string): void {
		throwUnlessReady(redis, what, 'the engine is not started');
	}

	/** The error of a failed command; "Redis is unavailable" when it failed because the connection was lost. */
	#failure(what: string, error: unknown, redis?: RedisConnection): Error {
		return commandFailure(what, error, redis);
	}

	#schedulePing(): void {
		this.#stopPinging();
		if (!this.#pingInterval || this.#closed || this.#sharded) return;
		this.#pingTimer = setTimeout(
			() => this.#ping().catch((error) => this.#report(errorFrom(error))),
			this.#pingInterval
		);
		this.#pingTimer.unref?.();
	}

	#stopPinging(): void {
		clearTimeout(this.#pingTimer);
		this.#pingTimer = undefined;
	}

	async #ping(): Promise<void> {
		const subscriber = this.#subscriber;
		if (this.#closed || subscriber.status != 'ready') return;
		try {
			await withDeadline(subscriber.ping(), this.#pingInterval, 'Redis');
		} catch (error) {
			if (this.#closed || subscriber.status != 'ready') return;
			this.#report(this.#failure('keep the subscriber alive, reconnecting it', error));
			subscriber.disconnect(true);
			return;
		}
		if (this.#subscribed) this.#schedulePing();
	}

	#updateHealth(): void {
		const healthy = !this.#closed && this.#commands.status == 'ready' && this.#subscribed;
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
