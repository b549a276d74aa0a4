import type { PresenceEntry } from '../protocol/presence.js';
import { randomBytes } from 'node:crypto';
import { isRecord } from '../protocol/envelope.js';
import type { EnginePresence, PresenceChange, PresenceMember } from '../engine/engine.js';
import { presenceScopeOf } from '../engine/presence-scope.js';
import type { RedisConnection } from './connections.js';
import { commandWithin, throwUnlessReady } from './failures.js';
import { errorFrom } from '../engine/errors.js';
import { presenceKeys, roomKeys, type PresenceKeys } from './keys.js';
import {
	PRESENCE_MEMBERS_SCRIPT,
	PRESENCE_SCRIPTS,
	SHARDED_PRESENCE_SCRIPTS,
	type PresenceScripts
} from './presence-scripts.js';
import { runScript, type LuaScript } from './scripts.js';

/** What `RedisPresence` needs of its engine. */
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
	/**
	 * The users announced as present (by the room's changes, or by a read of its set), to tell which
	 * ones vanished after a gap.
	 */
	readonly seen: Set<string>;
	/**
	 * A write or refresh of it failed: Redis may have other entries of this process than `entries`,
	 * so they are all written again soon (`#markStale`).
	 */
	stale: boolean;
}

/**
 * A change as the presence scripts publish it: `in`, the presence room's name (a route's scope of
 * a room, see `presenceRoomOf`), and `put`, the entries as `[user id, entry]` pairs. User ids are
 * never keys on the channel: the safe parse of channel messages would drop a user named `__proto__`.
 */
interface ChannelChange extends PresenceChange {
	readonly in?: unknown;
	readonly put?: unknown;
}

/**
 * How soon a room whose write or refresh failed is written again (and again, while Redis is not
 * ready): a heartbeat may be seconds away, and until then the room's members may miss a user.
 */
const REPAIR_MS = 250;

/** Reads of a room's set in flight, and the changes heard meanwhile (handed on after them). */
interface Reading {
	count: number;
	readonly buffered: PresenceChange[];
}

/**
 * Presence on Redis, shared by every process of the engine: each connection's entry lives in the
 * room's presence keys, tagged with this process's id; Lua scripts track and untrack atomically and
 * publish each change on the room's channel, where every subscribed process hears it. A presence
 * room named by `presenceRoomOf` (the server scopes each room's presence by route) has keys of its
 * own in the room's slot, and its changes travel on the room's channel, named.
 *
 * No ghosts: this process renews its time in each room it has entries in every `ttl / 3` ms (one
 * heartbeat script per room). A process that dies stops renewing; the next script any process runs
 * in the room after its time passed drops its entries and announces their users' new counts, and
 * `members()` leaves them out meanwhile. When a heartbeat finds that Redis no longer knows this
 * process in a room (Redis restarted and lost it, or this process stalled beyond its time), it
 * tracks its connections again and hands the server the room's whole current set, users gone
 * meanwhile as removed; so does `resync()`, and so does a repair 250 ms after a write or refresh
 * of the room failed (then again, less and less often, until one succeeds).
 */
export class RedisPresence implements EnginePresence {
	/** This process's id in every room's presence. */
	readonly #process = randomBytes(9).toString('base64url');
	readonly #options: RedisPresenceOptions;
	readonly #scripts: PresenceScripts;
	readonly #rooms = new Map<string, LocalRoom>();
	readonly #reading = new Map<string, Reading>();
	/** Connections `close()` leaves in Redis to expire, by room (`expireAfterClose`). */
	readonly #expiring = new Map<string, Set<string>>();
	#timer: ReturnType<typeof setInterval> | undefined;
	#repairTimer: ReturnType<typeof setTimeout> | undefined;
	#repairDelay = REPAIR_MS;
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
		if (!local) {
			this.#rooms.set(room, (local = { entries: new Map(), seen: new Set(), stale: false }));
		}
		const entry = { user: member.id, data: JSON.stringify(member.data ?? null) ?? 'null' };
		local.entries.set(connectionId, entry);
		await this.#write(local, `track presence in "${room}"`, room, this.#scripts.track, [
			'0',
			connectionId,
			entry.user,
			entry.data
		]);
	}

	async untrack(room: string, connectionId: string): Promise<void> {
		const local = this.#rooms.get(room);
		// After close() this process answers for none of its entries (gone, or left to expire).
		if (this.#closed || !local?.entries.delete(connectionId)) return;
		const last = local.entries.size == 0;
		if (last) this.#rooms.delete(room);
		await this.#write(local, `untrack presence in "${room}"`, room, this.#scripts.untrack, [
			connectionId,
			last ? '1' : '0'
		]);
	}

	/** Runs a write of `room`; when it fails, the room is written again soon (`#markStale`). */
	async #write(
		local: LocalRoom,
		what: string,
		room: string,
		lua: LuaScript,
		args: readonly string[]
	): Promise<void> {
		try {
			await this.#run(what, room, lua, args);
		} catch (error) {
			this.#markStale(room, local);
			throw error;
		}
	}

	/**
	 * A write of `room` failed: Redis may have other entries of this process there than the local
	 * ones. The room is kept, even with no connection left (its last untrack failed), until it is
	 * written again: a later track would otherwise renew this process in the room and bring the
	 * entry that failed to go back to life, for good.
	 */
	#markStale(room: string, local: LocalRoom): void {
		if (this.#closed) return;
		let current = this.#rooms.get(room);
		if (!current) this.#rooms.set(room, (current = local));
		current.stale = true;
		this.#repairSoon();
	}

	/**
	 * Refreshes every stale room after `#repairDelay` (or later, when Redis is not ready by then).
	 * The delay doubles with each round up to a heartbeat's, and is back at `REPAIR_MS` once a
	 * refresh succeeds: a Redis that keeps refusing is not asked four times a second for good.
	 */
	#repairSoon(): void {
		if (this.#repairTimer || this.#closed) return;
		this.#repairTimer = setTimeout(() => {
			this.#repairTimer = undefined;
			if (this.#options.redis.status != 'ready') return this.#repairSoon();
			this.#repairDelay = Math.min(
				this.#repairDelay * 2,
				Math.max(REPAIR_MS, this.#options.ttl / 3)
			);
			for (const [room, local] of this.#rooms) if (local.stale) this.#refresh(room, false);
		}, this.#repairDelay);
		this.#repairTimer.unref?.();
	}

	/**
	 * The room's set, read once this process receives the room's changes. Changes heard while it is
	 * read are handed on only after the caller got it (the server sends the set first): a change
	 * made after the read must not reach a client before the older set, which would undo it.
	 */
	async members(room: string): Promise<Record<string, PresenceEntry>> {
		return this.#readBuffering(room, () => undefined);
	}

	/**
	 * Reads the room's set, buffering the changes heard meanwhile (see `members`). `changeOf` turns
	 * the set into a change to hand on in its place in the room's order: after the changes buffered
	 * before this read began (another read's: older than this one), before those heard since (newer).
	 */
	async #readBuffering(
		room: string,
		changeOf: (members: Record<string, PresenceEntry>) => PresenceChange | undefined
	): Promise<Record<string, PresenceEntry>> {
		await this.#options.subscription(roomOf(room))?.catch(() => undefined);
		let reading = this.#reading.get(room);
		if (!reading) this.#reading.set(room, (reading = { count: 0, buffered: [] }));
		reading.count++;
		// Nothing buffered is handed on while this read counts, so this place stays where it began.
		const place = reading.buffered.length;
		try {
			const members = await this.#read(room);
			// Its users may reach members of the room here (a state): a later resync must be able to
			// tell them gone, so they count as announced.
			const seen = this.#rooms.get(room)?.seen;
			const change = changeOf(members);
			if (seen) for (const id of Object.keys(members)) seen.add(id);
			if (change) reading.buffered.splice(place, 0, change);
			return members;
		} finally {
			reading.count--;
			if (!reading.count) setImmediate(() => this.#handOnBuffered(room, reading));
		}
	}

	/**
	 * A change heard on `room`'s channel, handed on under the presence room it names (one of
	 * `room`'s: a channel speaks only for its own room).
	 */
	received(room: string, change: PresenceChange): void {
		const heard = channelChange(change);
		if (heard && roomOf(heard.name) == room) this.#heard(heard.name, heard.change);
	}

	/** A change of a presence room: remembered for later resyncs, and handed on. */
	#heard(room: string, change: PresenceChange): void {
		const seen = this.#rooms.get(room)?.seen;
		if (seen) {
			for (const id of Object.keys(change.set)) seen.add(id);
			for (const id of change.removed) seen.delete(id);
		}
		const reading = this.#reading.get(room);
		if (reading) reading.buffered.push(change);
		else this.#options.changed(room, change);
	}

	/**
	 * After the reads of `room`: hands on the changes buffered meanwhile, in order (unless a new read
	 * began).
	 */
	#handOnBuffered(room: string, reading: Reading): void {
		if (reading.count || this.#reading.get(room) !== reading) return;
		this.#reading.delete(room);
		for (const change of reading.buffered) this.#options.changed(room, change);
	}

	async #read(room: string): Promise<Record<string, PresenceEntry>> {
		const keys = presenceRoomKeys(this.#options.prefix, room);
		const flat = (await this.#command(`read the presence of "${room}"`, () =>
			runScript(
				this.#options.redis,
				PRESENCE_MEMBERS_SCRIPT,
				[keys.connections, keys.users, keys.processes],
				[]
			)
		)) as unknown[];
		// User ids are anyone's to choose: a plain object would take `__proto__` for its prototype.
		const members = Object.create(null) as Record<string, PresenceEntry>;
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

	/** `close()` leaves the connection's entry to expire with this process (see `EnginePresence`). */
	expireAfterClose(room: string, connectionId: string): void {
		const local = this.#rooms.get(room);
		if (this.#closed || !local?.entries.has(connectionId)) return;
		let kept = this.#expiring.get(room);
		if (!kept) this.#expiring.set(room, (kept = new Set()));
		kept.add(connectionId);
	}

	/**
	 * Stops the heartbeat and removes every entry of this process (each room's users announced), but
	 * those handed to `expireAfterClose`: they stay until this process's time in their room passes.
	 */
	async close(): Promise<void> {
		if (this.#closed) return;
		this.#closed = true;
		clearInterval(this.#timer);
		clearTimeout(this.#repairTimer);
		const rooms = [...this.#rooms];
		this.#rooms.clear();
		if (this.#options.redis.status != 'ready') return;
		await Promise.all(
			rooms.map(([room, local]) =>
				this.#leave(room, local).catch((error) => this.#options.report(errorFrom(error)))
			)
		);
	}

	/** At close: drops this process's entries in `room`, but those left to expire. */
	async #leave(room: string, local: LocalRoom): Promise<void> {
		const kept = [...local.entries].filter(([id]) => this.#expiring.get(room)?.has(id));
		if (!kept.length) {
			await this.#run(`leave the presence of "${room}"`, room, this.#scripts.leave, []);
			return;
		}
		// Redis has exactly these already: they expire with the last heartbeat's time.
		if (kept.length == local.entries.size && !local.stale) return;
		const args = kept.flatMap(([id, entry]) => [id, entry.user, entry.data]);
		await this.#run(`leave the presence of "${room}"`, room, this.#scripts.track, ['1', ...args]);
	}

	#beat(): void {
		if (this.#closed || this.#options.redis.status != 'ready') return;
		for (const room of this.#rooms.keys()) this.#refresh(room, false);
	}

	/**
	 * Renews this process in `room`. When Redis had lost it, a write of it failed, or on `resync`,
	 * writes every connection of this process in the room again (in place of whatever Redis had of
	 * it) and hands the server the room's whole set (users gone as removed).
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
			if (!local || (known && !resync && !local.stale)) return;
			local.stale = false;
			await this.#writeAgain(room, local);
			// The whole set goes where its read began in the room's order: a change buffered before it is
			// older and must not undo it, one heard since is newer and must not be undone by it.
			await this.#readBuffering(room, (members) => {
				const removed = [...local.seen].filter((id) => !Object.hasOwn(members, id));
				return { set: members, removed };
			});
			// Kept only for this write (its last untrack had failed): nothing of it is left to renew.
			if (!local.entries.size && this.#rooms.get(room) === local) this.#rooms.delete(room);
			this.#repairDelay = REPAIR_MS;
		};
		refreshed().catch((error) => {
			this.#options.report(errorFrom(error));
			const local = this.#rooms.get(room);
			if (local) this.#markStale(room, local);
		});
	}

	/**
	 * Writes every connection of this process in `room` again, in place of whatever Redis had of
	 * it; with none left (the last untrack failed), drops what Redis had.
	 */
	async #writeAgain(room: string, local: LocalRoom): Promise<void> {
		const args = [...local.entries].flatMap(([id, entry]) => [id, entry.user, entry.data]);
		if (!args.length) {
			return this.#write(local, `leave the presence of "${room}"`, room, this.#scripts.leave, []);
		}
		await this.#write(local, `track presence in "${room}" again`, room, this.#scripts.track, [
			'1',
			...args
		]);
	}

	/** Runs one of the presence scripts on `room` with the common arguments, then `args`. */
	#run(what: string, room: string, lua: LuaScript, args: readonly string[]): Promise<unknown> {
		const keys = presenceRoomKeys(this.#options.prefix, room);
		const { channel } = roomKeys(this.#options.prefix, roomOf(room));
		const { ttl, retention } = this.#options;
		const common = [channel, this.#process, Math.ceil(ttl), Math.ceil(retention)];
		return this.#command(what, () =>
			runScript(
				this.#options.redis,
				lua,
				[keys.connections, keys.users, keys.processes],
				[...common, JSON.stringify(room), ...args]
			)
		);
	}

	#command<T>(what: string, run: () => Promise<T>): Promise<T> {
		const redis = this.#options.redis;
		throwUnlessReady(redis, what, 'the engine is not started');
		return commandWithin(redis, what, this.#options.timeout, run);
	}
}

/**
 * The keys of a presence room: the room's presence keys, and for a route's scope of it
 * (`presenceRoomOf`) the same names followed by `/` and the route's path URI-encoded (so with no
 * `/`, `:`, `{` or `}`): no two scopes share a key, and every key keeps the room's hash tag, in the
 * slot of the room's channel.
 */
export function presenceRoomKeys(prefix: string, presenceRoom: string): PresenceKeys {
	const scope = presenceScopeOf(presenceRoom);
	const keys = presenceKeys(prefix, scope?.room ?? presenceRoom);
	if (!scope) return keys;
	const suffix = `/${encodeURIComponent(scope.path)}`;
	return {
		connections: keys.connections + suffix,
		users: keys.users + suffix,
		processes: keys.processes + suffix
	};
}

/** The room whose channel carries a presence room's changes: its own, or the one it scopes. */
function roomOf(presenceRoom: string): string {
	return presenceScopeOf(presenceRoom)?.room ?? presenceRoom;
}

/** The presence room and change a channel's presence envelope carries, or undefined if malformed. */
function channelChange(
	change: ChannelChange
): { name: string; change: PresenceChange } | undefined {
	const { in: name, put, removed } = change;
	if (typeof name != 'string' || !Array.isArray(put)) return undefined;
	const set = Object.create(null) as Record<string, PresenceEntry>;
	for (const pair of put as unknown[]) {
		if (!Array.isArray(pair) || typeof pair[0] != 'string') return undefined;
		const entry: unknown = pair[1];
		if (!isRecord(entry) || typeof entry.connections != 'number') return undefined;
		set[pair[0]] = { data: entry.data, connections: entry.connections };
	}
	return { name, change: { set, removed } };
}
