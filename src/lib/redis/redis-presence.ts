import { randomBytes } from 'node:crypto';
import type {
	EnginePresence,
	PresenceChange,
	PresenceMember,
	PresenceRecord
} from '../server/engine.js';
import type { RedisConnection } from './connections.js';
import { commandFailure, errorFrom, throwUnlessReady } from './failures.js';
import { presenceKeys, roomKeys } from './keys.js';
import {
	PRESENCE_MEMBERS_SCRIPT,
	PRESENCE_SCRIPTS,
	SHARDED_PRESENCE_SCRIPTS,
	type PresenceScripts
} from './presence-scripts.js';
import { runScript, type LuaScript } from './scripts.js';
import { within } from './within.js';

/**
 * What `RedisPresence` needs of its engine.
 *
 * @example
 * ```ts
 * const options: RedisPresenceOptions = { redis, sharded: false, prefix: 'runesocket:', ttl: 15_000, retention, timeout, changed, report };
 * ```
 */
export interface RedisPresenceOptions {
	/** The engine's command connection. */
	readonly redis: RedisConnection;
	/** A Redis Cluster: changes go out with SPUBLISH. */
	readonly sharded: boolean;
	readonly prefix: string;
	/** Milliseconds a process's entries outlive its last heartbeat; it beats every third of it. */
	readonly ttl: number;
	/** Milliseconds a room's presence keys outlive their last write. */
	readonly retention: number;
	/** Milliseconds a command may take. */
	readonly timeout: number;
	/** Hands a change of a room to the server (the engine's `presence` handler). */
	readonly changed: (room: string, change: PresenceChange) => void;
	/** The room's subscription in progress, if any: a read of the set waits for it. */
	readonly subscription: (room: string) => Promise<void> | undefined;
	readonly report: (error: Error) => void;
}

/** A connection of this process present in a room: its user id and data JSON. */
interface LocalEntry {
	readonly user: string;
	readonly data: string;
}

/** A room this process has present connections in. */
interface LocalRoom {
	readonly entries: Map<string, LocalEntry>;
	/** The users the room's changes announced as present, to tell which ones vanished after a gap. */
	readonly seen: Set<string>;
}

/** Reads of a room's set in flight, and the changes heard meanwhile (handed on after them). */
interface Reading {
	count: number;
	readonly held: PresenceChange[];
}

/**
 * Presence on Redis, shared by every process of the engine: each connection's entry lives in the
 * room's presence keys, tagged with this process's id; Lua scripts track and untrack atomically and
 * publish each change on the room's channel, where every subscribed process hears it.
 *
 * No ghosts: this process renews its time in each room it has entries in every `ttl / 3` ms (one
 * heartbeat script per room). A process that dies stops renewing; the next script any process runs
 * in the room after its time passed drops its entries and announces their users' new counts, and
 * `members()` leaves them out meanwhile. When a heartbeat finds that Redis no longer knows this
 * process in a room (Redis restarted and lost it, or this process stalled beyond its time), it
 * tracks its connections again and hands the server the room's whole current set, users gone
 * meanwhile as removed.
 *
 * @example
 * ```ts
 * const presence = new RedisPresence({ redis: commands, sharded: false, prefix: 'runesocket:', ttl: 15_000, retention: 86_400_000, timeout: 5_000, changed, report });
 * presence.start();
 * await presence.track('team:acme', 'c1', { id: 'ada', data: { name: 'Ada' } });
 * ```
 */
export class RedisPresence implements EnginePresence {
	/** This process's id in every room's presence. */
	readonly #process = randomBytes(9).toString('base64url');
	readonly #options: RedisPresenceOptions;
	readonly #scripts: PresenceScripts;
	readonly #rooms = new Map<string, LocalRoom>();
	readonly #reading = new Map<string, Reading>();
	#timer: ReturnType<typeof setInterval> | undefined;
	#closed = false;

	constructor(options: RedisPresenceOptions) {
		this.#options = options;
		this.#scripts = options.sharded ? SHARDED_PRESENCE_SCRIPTS : PRESENCE_SCRIPTS;
	}

	/** Starts the heartbeat. */
	start(): void {
		if (this.#timer || this.#closed) return;
		this.#timer = setInterval(() => this.#beat(), Math.max(1, Math.floor(this.#options.ttl / 3)));
		this.#timer.unref?.();
	}

	async track(room: string, connectionId: string, member: PresenceMember): Promise<void> {
		if (this.#closed)
			throw new Error(`runesocket/redis: cannot track in "${room}": the engine is closed`);
		let local = this.#rooms.get(room);
		if (!local) this.#rooms.set(room, (local = { entries: new Map(), seen: new Set() }));
		const entry = { user: member.id, data: JSON.stringify(member.data ?? null) ?? 'null' };
		local.entries.set(connectionId, entry);
		await this.#run(`track presence in "${room}"`, room, this.#scripts.track, [
			connectionId,
			entry.user,
			entry.data
		]);
	}

	async untrack(room: string, connectionId: string): Promise<void> {
		const local = this.#rooms.get(room);
		// After close() every entry of this process is gone already.
		if (this.#closed || !local?.entries.delete(connectionId)) return;
		const last = local.entries.size == 0;
		if (last) this.#rooms.delete(room);
		await this.#run(`untrack presence in "${room}"`, room, this.#scripts.untrack, [
			connectionId,
			last ? '1' : '0'
		]);
	}

	/**
	 * The room's set, read once this process receives the room's changes. Changes heard while it is
	 * read are handed on only after the caller got it (the server sends the set first): a change
	 * made after the read must not reach a client before the older set, which would undo it.
	 */
	async members(room: string): Promise<PresenceRecord> {
		await this.#options.subscription(room)?.catch(() => undefined);
		let reading = this.#reading.get(room);
		if (!reading) this.#reading.set(room, (reading = { count: 0, held: [] }));
		reading.count++;
		try {
			return await this.#read(room);
		} finally {
			reading.count--;
			if (!reading.count) setImmediate(() => this.#release(room, reading));
		}
	}

	/** A change heard on the room's channel: remembered for later resyncs, and handed on. */
	received(room: string, change: PresenceChange): void {
		const seen = this.#rooms.get(room)?.seen;
		if (seen) {
			for (const id of Object.keys(change.set)) seen.add(id);
			for (const id of change.removed) seen.delete(id);
		}
		const reading = this.#reading.get(room);
		if (reading) reading.held.push(change);
		else this.#options.changed(room, change);
	}

	/** After the reads of `room`: the changes held meanwhile, in order (unless a new read began). */
	#release(room: string, reading: Reading): void {
		if (reading.count || this.#reading.get(room) !== reading) return;
		this.#reading.delete(room);
		for (const change of reading.held) this.#options.changed(room, change);
	}

	async #read(room: string): Promise<PresenceRecord> {
		const keys = presenceKeys(this.#options.prefix, room);
		const flat = (await this.#command(`read the presence of "${room}"`, () =>
			runScript(
				this.#options.redis,
				PRESENCE_MEMBERS_SCRIPT,
				[keys.connections, keys.users, keys.processes],
				[]
			)
		)) as unknown[];
		const members: PresenceRecord = {};
		for (let index = 0; index + 2 < flat.length; index += 3) {
			members[String(flat[index])] = {
				data: JSON.parse(String(flat[index + 2])) as unknown,
				connections: Number(flat[index + 1])
			};
		}
		return members;
	}

	/**
	 * The room feed came back after a gap (changes may have been missed): every room gets its
	 * heartbeat now, and the server its whole current set.
	 */
	resync(): void {
		for (const room of this.#rooms.keys()) this.#refresh(room, true);
	}

	/** Stops the heartbeat and removes every entry of this process (each room's users announced). */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		const rooms = [...this.#rooms.keys()];
		this.#rooms.clear();
		if (this.#options.redis.status != 'ready') return;
		await Promise.all(
			rooms.map((room) =>
				this.#run(`leave the presence of "${room}"`, room, this.#scripts.leave, []).catch((error) =>
					this.#options.report(errorFrom(error))
				)
			)
		);
	}

	#beat(): void {
		if (this.#closed || this.#options.redis.status != 'ready') return;
		for (const room of this.#rooms.keys()) this.#refresh(room, false);
	}

	/**
	 * Renews this process in `room`; when Redis had lost it, tracks its connections again. Then, if
	 * it was lost or `resync`, hands the server the room's whole set (users gone as removed).
	 */
	#refresh(room: string, resync: boolean): void {
		const refreshed = async () => {
			const known = await this.#run(
				`renew presence in "${room}"`,
				room,
				this.#scripts.heartbeat,
				[]
			);
			const local = this.#rooms.get(room);
			if (!local || (known && !resync)) return;
			if (!known && local.entries.size) {
				const args = [...local.entries].flatMap(([id, entry]) => [id, entry.user, entry.data]);
				await this.#run(`track presence in "${room}" again`, room, this.#scripts.track, args);
			}
			const members = await this.members(room);
			const removed = [...local.seen].filter((id) => !Object.hasOwn(members, id));
			this.received(room, { set: members, removed });
		};
		refreshed().catch((error) => this.#options.report(errorFrom(error)));
	}

	/** Runs one of the presence scripts on `room` with the common arguments, then `args`. */
	#run(what: string, room: string, lua: LuaScript, args: readonly string[]): Promise<unknown> {
		const keys = presenceKeys(this.#options.prefix, room);
		const { channel } = roomKeys(this.#options.prefix, room);
		const { ttl, retention } = this.#options;
		return this.#command(what, () =>
			runScript(
				this.#options.redis,
				lua,
				[keys.connections, keys.users, keys.processes],
				[channel, this.#process, Math.ceil(ttl), Math.ceil(retention), ...args]
			)
		);
	}

	async #command<T>(what: string, run: () => Promise<T>): Promise<T> {
		const redis = this.#options.redis;
		throwUnlessReady(redis, what, 'the engine is not started');
		try {
			return await within(run(), this.#options.timeout);
		} catch (error) {
			throw commandFailure(what, error, redis);
		}
	}
}
