import { errorFrom, withDeadline } from '../engine/errors.js';
import {
	connect,
	isCluster,
	keepShardChannels,
	quit,
	type RedisConnection
} from './connections.js';
import { commandFailure, isChannelRefusal, throwUnlessReady } from './failures.js';
import { roomKeys } from './keys.js';
import { RefusedChannels } from './refused-channels.js';

/**
 * After Redis refused to resubscribe a (re)connected subscriber, it is dropped this long later, so
 * it reconnects and tries again; each next refusal in a row waits twice as long, up to the max.
 * ioredis restarts its own reconnection delay from the bottom after every successful connection,
 * so without these a refusal that lasts (an ACL, a Redis out of memory) would be retried every
 * 50–250 ms, for good.
 */
const RESUBSCRIBE_RETRY_FIRST_MS = 100;
const RESUBSCRIBE_RETRY_MAX_MS = 5_000;

/**
 * Where the subscriber connection stands:
 * - `starting`: it has not subscribed every room yet since the engine started;
 * - `subscribed`: connected, every wanted room subscribed (pinged every `pingInterval`);
 * - `lost`: it was subscribed, then lost its connection (on a cluster: a node); its next complete
 *   resubscription is a recovery, after which the engine resyncs;
 * - `closed`: the engine is closing or closed.
 */
type SubscriberPhase = 'starting' | 'subscribed' | 'lost' | 'closed';

/** What a `RoomSubscriber` needs of its engine. */
export interface RoomSubscriberOptions {
	/** The engine's own subscriber connection: one Redis, or a cluster (then sharded pub/sub). */
	readonly connection: RedisConnection;
	readonly prefix: string;
	/** Milliseconds a (re)subscription may take. */
	readonly timeout: number;
	/** Milliseconds between pings (0 = none; never on a cluster). */
	readonly pingInterval: number;
	/** A channel message of a room this process subscribed. */
	readonly received: (room: string, text: string) => void;
	/**
	 * A channel subscribed besides the rooms, whenever the connection is (re)subscribed, for as long
	 * as the engine runs (the control channel), and where its messages go.
	 */
	readonly control?: { readonly channel: string; readonly received: (text: string) => void };
	/** Redis refused the room's channel (the room is given up): the server is told. */
	readonly refused: (room: string, error: Error) => void;
	/** `subscribed` may have changed. */
	readonly changed: () => void;
	/** Every room is subscribed again after a gap: what was published meanwhile never came. */
	readonly recovered: () => void;
	readonly report: (error: Error) => void;
}

/**
 * The engine's subscriber connection and the rooms it subscribes: a room's channel is subscribed
 * while the server wants the room (`subscribe`/`unsubscribe`), and remembered while Redis is down.
 * Every time the connection becomes ready every wanted room is subscribed again (ioredis'
 * `autoResubscribe` is off), one resubscription at a time; only once that succeeded is it
 * `subscribed`, and after a gap the engine is told to resync (`recovered`). A room whose channel
 * Redis refuses (an ACL) is given up alone, and not asked for again for a while (see
 * `RefusedChannels`). On one Redis, a ping every `pingInterval` finds a connection silently stuck.
 */
export class RoomSubscriber {
	readonly #options: RoomSubscriberOptions;
	readonly #connection: RedisConnection;
	/** A Redis Cluster: rooms are subscribed with SSUBSCRIBE, on the node serving their slot. */
	readonly #sharded: boolean;
	#phase: SubscriberPhase = 'starting';
	/** Channel → room, for every room this process wants (even while Redis is down). */
	readonly #rooms = new Map<string, string>();
	/** Room → its subscription in progress (a presence read waits for it). */
	readonly #subscriptions = new Map<string, Promise<void>>();
	readonly #refused = new RefusedChannels();
	/** The current (re)subscription, awaited by `resubscribed()`; never rejects. */
	#resubscribing: Promise<void> = Promise.resolve();
	/** A resubscription waits to run after the current one (they never overlap). */
	#resubscribeQueued = false;
	/**
	 * Resolves at the connection's first `ready` event, which a cluster client emits only after its
	 * `connect()` resolved: starting waits for the subscription that event begins.
	 */
	readonly #firstSession: Promise<void>;
	/** How many times the connection became ready: tells a delayed retry whether it is still current. */
	#sessions = 0;
	/** Nodes a cluster lost so far: a resubscription that saw one go is not complete. */
	#shardLosses = 0;
	/** Resubscriptions Redis refused in a row. */
	#refusedResubscriptions = 0;
	#resubscribeRetryTimer: ReturnType<typeof setTimeout> | undefined;
	/**
	 * Redis refused the control channel (an ACL) in the current resubscription: left out of ioredis'
	 * record until the next one asks again, or it would fail the resubscription of its slot's rooms.
	 */
	#controlRefused = false;
	#pingTimer: ReturnType<typeof setTimeout> | undefined;

	constructor(options: RoomSubscriberOptions) {
		this.#options = options;
		const connection = (this.#connection = options.connection);
		this.#sharded = isCluster(connection);
		let firstSessionBegan: () => void = () => {};
		this.#firstSession = new Promise((resolve) => (firstSessionBegan = resolve));
		connection.on('ready', () => {
			this.#sessions++;
			this.#queueResubscribe();
			firstSessionBegan();
		});
		connection.on('close', () => {
			if (this.#phase == 'subscribed') this.#enter('lost');
			this.#options.changed();
		});
		const messageEvent = this.#sharded ? 'smessage' : 'message';
		const control = options.control;
		connection.on(messageEvent, (channel: string, text: string) => {
			if (channel === control?.channel) return control.received(text);
			const room = this.#rooms.get(channel);
			if (room !== undefined) this.#options.received(room, text);
		});
		if (this.#sharded) this.#watchShards();
	}

	/** Whether the connection is up and every wanted room subscribed. */
	get subscribed(): boolean {
		return this.#phase == 'subscribed';
	}

	/** Connects; resolves once connected and its first subscription of every room began. */
	async connect(): Promise<void> {
		await Promise.all([connect(this.#connection), this.#firstSession]);
	}

	/** Waits for the current (re)subscription; throws unless it subscribed every room. */
	async resubscribed(): Promise<void> {
		await this.#resubscribing;
		if (this.#phase != 'subscribed') {
			throw new Error('the subscriber connection dropped while starting');
		}
	}

	/** The room's subscription in progress, if any. */
	subscription(room: string): Promise<void> | undefined {
		return this.#subscriptions.get(room);
	}

	/** See `RedisEngine.subscribe`. */
	async subscribe(room: string): Promise<void> {
		if (this.#phase == 'closed') {
			throw new Error(`runesocket/redis: cannot subscribe "${room}": the engine is closed`);
		}
		const { channel } = roomKeys(this.#options.prefix, room);
		const refusal = this.#refused.current(channel);
		if (refusal) throw this.#tellRefused(room, refusal);
		this.#rooms.set(channel, room);
		throwUnlessReady(this.#connection, `subscribe "${room}"`, 'the engine is not started');
		const subscription = withDeadline(
			this.#subscribeChannels([channel]),
			this.#options.timeout,
			'Redis'
		);
		this.#subscriptions.set(room, subscription);
		try {
			await subscription;
			this.#refused.forget(channel);
		} catch (error) {
			if (isChannelRefusal(error)) throw this.#refuse(room, channel, error);
			throw commandFailure(`subscribe "${room}"`, error, this.#connection);
		} finally {
			if (this.#subscriptions.get(room) === subscription) this.#subscriptions.delete(room);
		}
	}

	/** See `RedisEngine.unsubscribe`. */
	async unsubscribe(room: string): Promise<void> {
		const { channel } = roomKeys(this.#options.prefix, room);
		const connection = this.#connection;
		if (!this.#rooms.delete(channel) || connection.status != 'ready') return;
		try {
			await withDeadline(
				this.#sharded ? connection.sunsubscribe(channel) : connection.unsubscribe(channel),
				this.#options.timeout,
				'Redis'
			);
		} catch (error) {
			throw commandFailure(`unsubscribe "${room}"`, error, connection);
		}
	}

	/** The engine is closing: nothing is subscribed, retried or pinged any more. */
	stop(): void {
		this.#enter('closed');
	}

	/** Forgets every room and quits the connection. */
	async quit(): Promise<void> {
		this.#rooms.clear();
		this.#refused.clear();
		await quit(this.#connection, this.#options.timeout);
	}

	/** The one way the phase changes: the ping runs only while subscribed, no retry once closed. */
	#enter(phase: SubscriberPhase): void {
		this.#phase = phase;
		if (phase == 'subscribed') return this.#schedulePing();
		this.#stopPinging();
		if (phase == 'closed') clearTimeout(this.#resubscribeRetryTimer);
	}

	/**
	 * Runs a resubscription after the current one (at once when none runs): two at a time would both
	 * subscribe every room, and the first to end would report the engine healthy while the other may
	 * still fail. Requests made while one waits are that one.
	 */
	#queueResubscribe(): void {
		if (this.#resubscribeQueued) return;
		this.#resubscribeQueued = true;
		const session = this.#sessions;
		const shardLosses = this.#shardLosses;
		this.#resubscribing = this.#resubscribing
			.then(() => {
				this.#resubscribeQueued = false;
				// The one before it subscribed every room and nothing was lost since: running again would
				// only subscribe them all twice (and, on a cluster, list them twice in ioredis' record).
				const unchanged = session == this.#sessions && shardLosses == this.#shardLosses;
				if (this.#phase == 'subscribed' && unchanged) return;
				return this.#resubscribe();
			})
			// Awaited only while starting: a failure here must not end the process as an unhandled rejection.
			.catch((error: unknown) => this.#options.report(errorFrom(error)));
	}

	/** The connection (re)connected: subscribe every wanted room, then report subscribed (and recovered). */
	async #resubscribe(): Promise<void> {
		const recovering = this.#phase == 'subscribed' || this.#phase == 'lost';
		const shardLosses = this.#shardLosses;
		try {
			await withDeadline(this.#subscribeWanted(), this.#options.timeout, 'Redis');
		} catch (error) {
			this.#options.report(commandFailure('resubscribe after reconnecting', error));
			// A lost connection reconnects by itself; a refusal needs a fresh one, later. A cluster
			// stays ready while one of its nodes is lost: it is tried again, later.
			if (this.#phase != 'closed' && this.#connection.status == 'ready') this.#reconnectLater();
			return;
		}
		if (this.#phase == 'closed' || this.#connection.status != 'ready') return;
		// A node lost meanwhile took some of these subscriptions with it: not done yet.
		if (shardLosses != this.#shardLosses) return this.#reconnectLater();
		this.#refusedResubscriptions = 0;
		this.#enter('subscribed');
		this.#options.changed();
		if (recovering) this.#options.recovered();
	}

	/** Drops the connection after a delay that grows with every refusal in a row, so it reconnects. */
	#reconnectLater(): void {
		const delay = Math.min(
			RESUBSCRIBE_RETRY_FIRST_MS * 2 ** this.#refusedResubscriptions,
			RESUBSCRIBE_RETRY_MAX_MS
		);
		this.#refusedResubscriptions++;
		const session = this.#sessions;
		clearTimeout(this.#resubscribeRetryTimer);
		this.#resubscribeRetryTimer = setTimeout(() => {
			this.#resubscribeRetryTimer = undefined;
			// Reconnected meanwhile: that session resubscribes on its own.
			if (this.#phase == 'closed' || session != this.#sessions) return;
			if (this.#connection.status != 'ready') return;
			if (this.#sharded) this.#resubscribeShards();
			else this.#connection.disconnect(true);
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
		this.#controlRefused = false;
		const channels = [...this.#wantedChannels()];
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
			if (this.#sharded) keepShardChannels(this.#connection, this.#wantedChannels());
		}
	}

	/** Every channel this process wants: its rooms' and the control channel (unless refused). */
	#wantedChannels(): Set<string> {
		const wanted = new Set(this.#rooms.keys());
		const control = this.#options.control?.channel;
		if (control !== undefined && !this.#controlRefused) wanted.add(control);
		return wanted;
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
			else if (channel === this.#options.control?.channel) {
				this.#controlRefused = true;
				this.#options.report(commandFailure('subscribe the control channel', outcome.reason));
			} else if (room !== undefined)
				this.#options.report(this.#refuse(room, channel, outcome.reason));
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
		if (this.#sharded) keepShardChannels(this.#connection, this.#wantedChannels());
		return this.#tellRefused(room, this.#refused.refuse(room, channel, cause));
	}

	#tellRefused(room: string, error: Error): Error {
		this.#options.refused(room, error);
		return error;
	}

	/**
	 * Subscribes `channels`: SUBSCRIBE on one Redis; on a cluster one SSUBSCRIBE per channel, since
	 * one SSUBSCRIBE may only name channels of one slot.
	 */
	async #subscribeChannels(channels: readonly string[]): Promise<void> {
		const connection = this.#connection;
		if (!this.#sharded) {
			await connection.subscribe(...channels);
			return;
		}
		await Promise.all(channels.map((channel) => connection.ssubscribe(channel)));
	}

	/**
	 * On a cluster, each master's slots have their own subscriber connection, which ends with its
	 * node (a crash, a failover, a reshard) while the cluster client stays ready: what was published
	 * on that node meanwhile never reached this process. The subscriber is then `lost` (the engine
	 * unhealthy), subscribes every room again once ioredis has a subscriber for each slot (retrying
	 * until it does), and the engine resyncs.
	 */
	#watchShards(): void {
		const lost = () => {
			this.#shardLosses++;
			if (this.#phase != 'subscribed') return;
			this.#enter('lost');
			this.#options.changed();
			this.#reconnectLater();
		};
		this.#connection.on('-node', lost);
		this.#connection.on('-subscriber', lost);
		this.#connection.on('subscribersReady', () => {
			if (this.#phase == 'lost') this.#resubscribeShards();
		});
	}

	/** Subscribes every room again on a cluster whose subscriber lost a node. */
	#resubscribeShards(): void {
		if (this.#phase == 'closed' || this.#phase == 'subscribed') return;
		if (this.#connection.status != 'ready') return;
		this.#queueResubscribe();
	}

	/** Read after an await: the phase may have changed meanwhile. */
	#isClosed(): boolean {
		return this.#phase == 'closed';
	}

	#schedulePing(): void {
		this.#stopPinging();
		const interval = this.#options.pingInterval;
		if (!interval || this.#sharded || this.#phase != 'subscribed') return;
		this.#pingTimer = setTimeout(
			() => this.#ping().catch((error: unknown) => this.#options.report(errorFrom(error))),
			interval
		);
		this.#pingTimer.unref?.();
	}

	#stopPinging(): void {
		clearTimeout(this.#pingTimer);
		this.#pingTimer = undefined;
	}

	async #ping(): Promise<void> {
		const connection = this.#connection;
		if (this.#phase == 'closed' || connection.status != 'ready') return;
		try {
			await withDeadline(connection.ping(), this.#options.pingInterval, 'Redis');
		} catch (error) {
			if (this.#isClosed() || connection.status != 'ready') return;
			this.#options.report(commandFailure('keep the subscriber alive, reconnecting it', error));
			connection.disconnect(true);
			return;
		}
		if (this.#phase == 'subscribed') this.#schedulePing();
	}
}
