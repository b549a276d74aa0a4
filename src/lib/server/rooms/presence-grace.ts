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

/** A connection kept listed in a presence room after it left it, and when its grace ends. */
interface Graced {
	readonly connection: Connection<unknown>;
	readonly timer: ReturnType<typeof setTimeout>;
}

/** A room's graced connections: by user, then connection id. */
type GracedRoom = Map<string, Map<string, Graced>>;

/** What the graces need of the engine's presence, by engine room name. */
export interface GraceEngine {
	/** Untracks a connection (its failures reported, never thrown). */
	untrack(name: string, connection: Connection<unknown>): Promise<void>;
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
	/** Graced connections by engine room name. */
	#rooms = new Map<string, GracedRoom>();
	#engine: GraceEngine;

	constructor(engine: GraceEngine) {
		this.#engine = engine;
	}

	/** Keeps `connection` tracked in `name` as `user` for `ms`, then untracks it. */
	keep(name: string, connection: Connection<unknown>, user: string, ms: number): void {
		let room = this.#rooms.get(name);
		if (!room) this.#rooms.set(name, (room = new Map()));
		let graced = room.get(user);
		if (!graced) room.set(user, (graced = new Map()));
		const timer = setTimeout(() => void this.#end(name, user, connection.id), ms);
		// A process with nothing else to do may exit: its entries then go with it (the engine's TTL).
		timer.unref?.();
		graced.set(connection.id, { connection, timer });
	}

	/**
	 * `user` is tracked in `name` again, on this process: one of their graced connections there ends
	 * now (nobody sees them leave: they are present through the new one). Settles once it is
	 * untracked, at once when none was graced.
	 */
	returned(name: string, user: string): Promise<void> {
		const [id] = this.#rooms.get(name)?.get(user)?.keys() ?? [];
		return id === undefined ? Promise.resolve() : this.#end(name, user, id);
	}

	/**
	 * The server closes (every connection gone, the engine about to close). A grace ends at once when
	 * nobody else is in its room (no connection, on any process, but the graced ones here: nobody
	 * sees a leave), when its user is present through another connection (back on another process
	 * already), when the room's presence cannot be read, or when the engine keeps presence for this
	 * process alone (no `expireAfterClose`: a closed `MemoryEngine` keeps nothing stale). The others
	 * are left to the engine: it keeps them after it closed, until this process's time in the room
	 * runs out (RedisEngine: `presenceTtl`), as a crashed process's, so that users who reconnect to
	 * another process or to this one restarted (a deploy) are never seen leaving. Resolves once
	 * every grace ended or was handed over; the untracks may still be on their way.
	 */
	async close(): Promise<void> {
		await Promise.all([...this.#rooms.keys()].map((name) => this.#closeRoom(name)));
	}

	async #closeRoom(name: string): Promise<void> {
		const expire = this.#engine.expireAfterClose;
		const members = expire && (await this.#engine.members(name).catch(() => undefined));
		const room = this.#rooms.get(name);
		if (!room) return;
		const presentElsewhere = (user: string) =>
			!!members &&
			Object.hasOwn(members, user) &&
			members[user].connections > (room.get(user)?.size ?? 0);
		const watched = members && Object.keys(members).some(presentElsewhere);
		// Decided before any is taken out: the counts above are this moment's.
		const decisions = [...room].map(([user, graced]) => ({
			user,
			ids: [...graced.keys()],
			keep: !!watched && !presentElsewhere(user)
		}));
		for (const { user, ids, keep } of decisions) {
			for (const id of ids) {
				if (keep && expire) this.#handOver(name, user, id, expire);
				else void this.#end(name, user, id);
			}
		}
	}

	/** Ends a grace now: the connection is untracked; settles once it is. */
	#end(name: string, user: string, id: string): Promise<void> {
		const graced = this.#take(name, user, id);
		return graced ? this.#engine.untrack(name, graced.connection) : Promise.resolve();
	}

	/** Leaves a graced connection to the engine, to expire after it closed. */
	#handOver(
		name: string,
		user: string,
		id: string,
		expire: (name: string, id: string) => void
	): void {
		const graced = this.#take(name, user, id);
		try {
			expire(name, id);
		} catch (error) {
			graced?.connection.report(error);
		}
	}

	/** Takes a grace out of its room, its timer stopped. */
	#take(name: string, user: string, id: string): Graced | undefined {
		const room = this.#rooms.get(name);
		const graced = room?.get(user);
		const found = graced?.get(id);
		if (!room || !graced || !found) return undefined;
		clearTimeout(found.timer);
		graced.delete(id);
		if (!graced.size) room.delete(user);
		if (!room.size) this.#rooms.delete(name);
		return found;
	}
}
