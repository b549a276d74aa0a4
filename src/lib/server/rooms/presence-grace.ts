import {
	GOING_AWAY,
	NORMAL_CLOSURE,
	POLICY_VIOLATION,
	SESSION_REVOKED
} from '../../protocol/close-codes.js';
import type { PresenceEntry } from '../../protocol/presence.js';
import type { Connection } from '../connection.js';

/**
 * Whether a connection that closed with `code` leaves a user expected back, so that its presence
 * is kept for the route's grace. Not after the client's own close (1000 or 1001 sent by the peer:
 * a tab closed, `disconnect()`), nor after a server close the client never retries (1008, 4004: a
 * revoked user must vanish at once). Every other close is one the client reconnects after: a drop
 * (1006), a missed heartbeat, a slow consumer (1013), an expired token (4001), a deploy (1001 sent
 * by `server.close()`).
 *
 * `decided` is the code the server closed with when it closed first (`closeCodeDecided`).
 */
export function expectedBack(decided: number | undefined, code: number): boolean {
	if (decided === undefined) return code != NORMAL_CLOSURE && code != GOING_AWAY;
	return decided != POLICY_VIOLATION && decided != SESSION_REVOKED;
}

/** A connection kept listed in a presence room after it left it. */
interface Graced {
	readonly connection: Connection<unknown>;
	/** The user it is present as. */
	readonly user: string;
	readonly timer: ReturnType<typeof setTimeout>;
	/** Settles the grace's promise (with the untrack, or at once when it is handed to the engine). */
	readonly settle: (done: Promise<void>) => void;
}

/** Untracks a connection from an engine room (its failures reported, never thrown). */
export type Untrack = (name: string, connection: Connection<unknown>) => Promise<void>;

/** What the graces need of the engine's presence, by engine room name. */
export interface GraceEngine {
	untrack: Untrack;
	/** The room's presence. */
	members(name: string): Promise<Record<string, PresenceEntry>>;
	/** `EnginePresence.expireAfterClose`, when the engine has it. */
	readonly expireAfterClose?: (name: string, connectionId: string) => void;
}

/**
 * Connections that left a presence room without asking to, still tracked in the engine while their
 * user is expected back. The engine merges connections by user, so a user back within the grace (a
 * new connection tracked, on any process) is never seen leaving: their count goes up, then down
 * when the old connection's grace ends. Each ends when its timer fires, or at once when its user is
 * tracked again in the room on this process (`returned`), or at `close`.
 */
export class PresenceGraces {
	/** Graced connections by engine room name, then connection id. */
	#rooms = new Map<string, Map<string, Graced>>();
	/** Graces not settled yet (untracked, or handed to the engine): what `close` waits for. */
	#unsettled = new Set<Promise<void>>();
	#engine: GraceEngine;

	constructor(engine: GraceEngine) {
		this.#engine = engine;
	}

	/** Keeps `connection` tracked in `name` as `user` for `ms`, then untracks it. */
	keep(name: string, connection: Connection<unknown>, user: string, ms: number): void {
		let room = this.#rooms.get(name);
		if (!room) this.#rooms.set(name, (room = new Map()));
		let settle!: (done: Promise<void>) => void;
		const settled = new Promise<void>((resolve) => (settle = resolve));
		this.#unsettled.add(settled);
		void settled.then(() => this.#unsettled.delete(settled));
		const timer = setTimeout(() => void this.#end(name, connection.id), ms);
		// A process with nothing else to do may exit: its entries then go with it (the engine's TTL).
		timer.unref?.();
		room.set(connection.id, { connection, user, timer, settle });
	}

	/**
	 * `user` is tracked in `name` again, on this process: one of their graced connections there ends
	 * now (nobody sees them leave: they are present through the new one). Settles once it is
	 * untracked, at once when none was graced.
	 */
	returned(name: string, user: string): Promise<void> {
		for (const [id, graced] of this.#rooms.get(name) ?? []) {
			if (graced.user == user) return this.#end(name, id);
		}
		return Promise.resolve();
	}

	/**
	 * The server closes (every connection gone, the engine about to close). A grace ends at once when
	 * nobody else is in its room (no connection, on any process, but the graced ones here: nobody
	 * sees a leave), when its user is present through another connection (back on another process
	 * already), when the room's presence cannot be read, or when the engine keeps presence for this
	 * process alone (no `expireAfterClose`: a closed `MemoryEngine` keeps nothing stale). The others
	 * are left to the engine: it keeps them after it closed, until this process's time in the room
	 * runs out (RedisEngine: `presenceTtl`), as a crashed process's, so that users who reconnect to
	 * another process or to this one restarted (a deploy) are never seen leaving.
	 */
	async close(): Promise<void> {
		await Promise.all([...this.#rooms.keys()].map((name) => this.#closeRoom(name)));
		await Promise.all(this.#unsettled);
	}

	async #closeRoom(name: string): Promise<void> {
		const expire = this.#engine.expireAfterClose;
		const members = expire && (await this.#engine.members(name).catch(() => undefined));
		const room = this.#rooms.get(name);
		if (!room) return;
		const graced = new Map<string, number>();
		for (const { user } of room.values()) graced.set(user, (graced.get(user) ?? 0) + 1);
		const presentElsewhere = (user: string) =>
			!!members &&
			Object.hasOwn(members, user) &&
			members[user].connections > (graced.get(user) ?? 0);
		const watched = members && Object.keys(members).some(presentElsewhere);
		const ending: Promise<void>[] = [];
		for (const [id, { user }] of [...room]) {
			if (expire && watched && !presentElsewhere(user)) this.#handOver(name, id, expire);
			else ending.push(this.#end(name, id));
		}
		await Promise.all(ending);
	}

	/** Ends a grace now: the connection is untracked; settles once it is. */
	#end(name: string, id: string): Promise<void> {
		const graced = this.#take(name, id);
		if (!graced) return Promise.resolve();
		const untracked = this.#engine.untrack(name, graced.connection);
		graced.settle(untracked);
		return untracked;
	}

	/** Leaves a graced connection to the engine, to expire after it closed. */
	#handOver(name: string, id: string, expire: (name: string, id: string) => void): void {
		const graced = this.#take(name, id);
		if (!graced) return;
		try {
			expire(name, id);
		} catch (error) {
			graced.connection.report(error);
		}
		graced.settle(Promise.resolve());
	}

	/** Takes a grace out of its room, its timer stopped. */
	#take(name: string, id: string): Graced | undefined {
		const room = this.#rooms.get(name);
		const graced = room?.get(id);
		if (!room || !graced) return undefined;
		clearTimeout(graced.timer);
		room.delete(id);
		if (!room.size) this.#rooms.delete(name);
		return graced;
	}
}
