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
	/** The user it is present as. */
	readonly user: string;
	/** Ends its grace now (once, however often called); settles once it is untracked. */
	readonly end: () => Promise<void>;
}

/** Untracks a connection from an engine room (its failures reported, never thrown). */
export type Untrack = (name: string, connection: Connection<unknown>) => Promise<void>;

/** Reads an engine room's presence. */
export type ReadMembers = (name: string) => Promise<Record<string, PresenceEntry>>;

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
	/** Graces not untracked yet, ended or not: what `close` waits for. */
	#unsettled = new Set<Promise<void>>();
	#untrack: Untrack;

	constructor(untrack: Untrack) {
		this.#untrack = untrack;
	}

	/** Keeps `connection` tracked in `name` as `user` for `ms`, then untracks it. */
	keep(name: string, connection: Connection<unknown>, user: string, ms: number): void {
		let room = this.#rooms.get(name);
		if (!room) this.#rooms.set(name, (room = new Map()));
		const graced = room;
		let settle!: (untracked: Promise<void>) => void;
		const settled = new Promise<void>((resolve) => (settle = resolve));
		let ended = false;
		const end = () => {
			if (ended) return settled;
			ended = true;
			clearTimeout(timer);
			graced.delete(connection.id);
			if (!graced.size && this.#rooms.get(name) === graced) this.#rooms.delete(name);
			settle(this.#untrack(name, connection));
			return settled;
		};
		const timer = setTimeout(end, ms);
		// A process with nothing else to do may exit: its entries then go with it (the engine's TTL).
		timer.unref?.();
		graced.set(connection.id, { user, end });
		this.#unsettled.add(settled);
		void settled.then(() => this.#unsettled.delete(settled));
	}

	/**
	 * `user` is tracked in `name` again, on this process: one of their graced connections there ends
	 * now (nobody sees them leave: they are present through the new one). Settles once it is
	 * untracked, at once when none was graced.
	 */
	returned(name: string, user: string): Promise<void> {
		for (const graced of this.#rooms.get(name)?.values() ?? []) {
			if (graced.user == user) return graced.end();
		}
		return Promise.resolve();
	}

	/**
	 * The server closes. In a room where nobody else is present (no connection of any process but
	 * these graced ones), or whose presence cannot be read, graces end at once: no one could see a
	 * leave, and a closed `MemoryEngine` keeps nothing stale. So do those of users present through
	 * another connection (back on another process already). The others, watched by members on
	 * other processes and not back yet, end with their grace: a deploy's reconnects do not blink.
	 * Resolves once every graced connection is untracked, at most the grace after the last one left.
	 */
	async close(read: ReadMembers): Promise<void> {
		await Promise.all([...this.#rooms.keys()].map((name) => this.#endUnwatched(name, read)));
		await Promise.all(this.#unsettled);
	}

	async #endUnwatched(name: string, read: ReadMembers): Promise<void> {
		const members = await read(name).catch(() => undefined);
		const room = this.#rooms.get(name);
		if (!room) return;
		const graced = new Map<string, number>();
		for (const { user } of room.values()) graced.set(user, (graced.get(user) ?? 0) + 1);
		const presentElsewhere = (user: string) =>
			!!members &&
			Object.hasOwn(members, user) &&
			members[user].connections > (graced.get(user) ?? 0);
		const watched = members && Object.keys(members).some(presentElsewhere);
		const ending = [...room.values()].filter(({ user }) => !watched || presentElsewhere(user));
		await Promise.all(ending.map((each) => each.end()));
	}
}
