import { REPLY_MESSAGE, serverMessage } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import {
	PRESENCE_DIFF,
	PRESENCE_GET,
	PRESENCE_STATE,
	type PresenceEntry
} from '../../protocol/presence.js';
import type { Connection, ConnectionRoute } from '../connection.js';
import type {
	Engine,
	EnginePresence,
	PresenceChange,
	PresenceMember
} from '../../engine/engine.js';
import { PreparedMessage } from '../transport/prepared-message.js';
import { presenceRoomOf } from '../../engine/presence-scope.js';
import { logFailure } from '../callbacks.js';
import { requestedRoom, type Sender } from '../session/client-input.js';
import { ROUTE_DEFAULTS, type PresenceOptions } from '../options.js';
import type { Route } from '../route.js';
import { PresenceGraces } from './presence-grace.js';

/**
 * How long a room's changes are gathered into one `presence.diff` after one was sent. Frames are
 * handled one per connection per event-loop turn, so merging a turn's changes would merge nothing
 * of one client's join/leave churn; 100 ms bounds a room's diffs to about 10 a second, whatever its
 * churn, and is too short for anyone watching avatars to notice. A change after a quiet spell still
 * goes out at the end of its own turn, without waiting.
 */
const COALESCE_MS = 100;
/** The first wait before reading a room's set again, after a read failed (the engine is down)… */
const FIRST_RETRY_MS = 100;
/** …doubled after each failure up to this. */
const MAX_RETRY_MS = 2_000;

/** The presence of one room on one route, as this process serves it to its members there. */
interface ServedRoom {
	/** The engine's name for it (`presenceRoomOf`). */
	readonly name: string;
	readonly room: string;
	/** Its members on this process. */
	readonly members: Set<Connection<unknown>>;
	/** How many of them each user has. */
	readonly users: Map<string, number>;
	/**
	 * Members that have not had the whole set (`presence.state`) yet: a client applies a diff only
	 * on top of a state, so they get the state once the engine can answer, and no diff before it.
	 */
	readonly unsynced: Set<Connection<unknown>>;
	/** Changes not sent yet, merged by user: the newest entry, or null when the user left. */
	readonly pending: Map<string, PresenceEntry | null>;
	/** A diff is due (at the end of this turn, or of the current window). */
	flushing: boolean;
	/** A read of the set for `unsynced` is in flight. */
	reading: boolean;
	retryTimer: ReturnType<typeof setTimeout> | undefined;
	/** The wait before the next read after a failed one; 0 after a success. */
	retryMs: number;
	/** No member is left: its timers do nothing more. */
	gone: boolean;
}

/** A connection's presence in one served room: the room, and the user it is present as. */
interface Present {
	readonly served: ServedRoom;
	readonly user: string;
}

/**
 * Presence for the rooms of routes that ask for it, scoped by route: every join tracks the
 * connection in the engine, every leave untracks it, and so does a close: at once when the client
 * closed itself, else after the route's `grace` (`PresenceGraces`). Each member gets the room's
 * whole presence (`presence.state`) once the engine can answer, however often it failed before,
 * and the changes after it as `presence.diff`, gathered per room for `COALESCE_MS`. Only members of
 * a room see its presence, so `authorizeJoin` decides who sees it as it decides who joins.
 *
 * Joins and leaves come from `Memberships`, the one owner of a connection's rooms.
 */
export class PresenceRooms {
	#engine: EnginePresence | undefined;
	/** The routes that keep presence, by the route their connections know. */
	#routes = new Map<ConnectionRoute, Route>();
	/** Every room served, by its engine name. */
	#served = new Map<string, ServedRoom>();
	/** Each connection's presence, by room name. */
	#servedOf = new WeakMap<Connection<unknown>, Map<string, Present>>();
	/** Connections that dropped, still tracked while their users are expected back. */
	#graces: PresenceGraces;
	/** Untracks on their way to the engine. */
	#untracking = new Set<Promise<void>>();

	constructor(engine: Engine, routes: readonly Route[]) {
		this.#engine = engine.presence;
		const presence = engine.presence;
		this.#graces = new PresenceGraces({
			untrack: (name, connection) => this.#untrack(name, connection),
			members: async (name) => presence!.members(name),
			expireAfterClose: presence?.expireAfterClose?.bind(presence)
		});
		for (const route of routes) if (route.options.presence) this.#routes.set(route, route);
		if (!this.#engine && this.#routes.size) {
			throw new TypeError(
				'A route asks for presence, and this engine does not keep presence (MemoryEngine does)'
			);
		}
	}

	/** `connection` joined `room`: tracks it, then sends it who is there. */
	joined(connection: Connection<unknown>, room: string): void {
		const route = this.#routes.get(connection.route);
		const member = route && this.#memberOf(connection, route, room);
		if (!route || !member || !this.#engine) return;
		const served = this.#serve(presenceRoomOf(route.options.path, room), room);
		served.members.add(connection);
		served.users.set(member.id, (served.users.get(member.id) ?? 0) + 1);
		served.unsynced.add(connection);
		let rooms = this.#servedOf.get(connection);
		if (!rooms) this.#servedOf.set(connection, (rooms = new Map()));
		rooms.set(room, { served, user: member.id });
		const engine = this.#engine;
		Promise.resolve()
			.then(() => engine.track(served.name, connection.id, member))
			.then(
				// Present again through this connection, a user's dropped one need not wait for its
				// grace: tracked first, untracked after, so the user never leaves; the set is read after.
				() => this.#graces.returned(served.name, member.id),
				(error: unknown) => connection.report(error)
			)
			// Tracked or not, the member gets the set the engine has; a failed track is the engine's to
			// repair (RedisEngine tracks its connections again once Redis is back).
			.then(() => this.#sync(served));
	}

	/**
	 * `connection` left `room`: its presence there ends, at once, or after the route's grace when
	 * its user is `expectedBack` (the connection dropped, see `expectedBack`).
	 */
	left(connection: Connection<unknown>, room: string, expectedBack = false): void {
		const rooms = this.#servedOf.get(connection);
		const present = rooms?.get(room);
		if (!rooms || !present) return;
		const { served, user } = present;
		rooms.delete(room);
		if (!rooms.size) this.#servedOf.delete(connection);
		served.members.delete(connection);
		served.unsynced.delete(connection);
		const others = (served.users.get(user) ?? 1) - 1;
		if (others) served.users.set(user, others);
		else served.users.delete(user);
		if (!served.members.size) this.#forget(served);
		// Still present here through another connection (a reconnect that overtook this close): no
		// need to keep this one.
		const grace = expectedBack && !others ? this.#graceOf(connection) : 0;
		if (grace > 0) this.#graces.keep(served.name, connection, user, grace);
		else void this.#untrack(served.name, connection);
	}

	/**
	 * The server closes, every connection gone: resolves once every connection in grace is untracked
	 * or left to the engine (see `PresenceGraces.close`), before the engine closes.
	 */
	async close(): Promise<void> {
		await this.#graces.close();
		await Promise.all(this.#untracking);
	}

	/**
	 * Untracks `connection` from the engine room `name`. The engine closes only once every untrack
	 * is done: one still on its way to Redis would otherwise be lost, its entry listed until the TTL.
	 */
	#untrack(name: string, connection: Connection<unknown>): Promise<void> {
		const engine = this.#engine!;
		const untracked = Promise.resolve()
			.then(() => engine.untrack(name, connection.id))
			.catch((error: unknown) => connection.report(error));
		this.#untracking.add(untracked);
		void untracked.then(() => this.#untracking.delete(untracked));
		return untracked;
	}

	/** How long a dropped connection of this route stays listed (ms). */
	#graceOf(connection: Connection<unknown>): number {
		const presence = this.#routes.get(connection.route)?.options.presence;
		return presence?.grace ?? ROUTE_DEFAULTS.presenceGrace;
	}

	/** `presence.get {room}`: the room's whole presence again, to a member of it. */
	get(sender: Sender, data: unknown, id: number | undefined): void {
		const room = requestedRoom(sender, PRESENCE_GET, data, id);
		if (room === undefined) return;
		const { connection } = sender;
		const refuse = () =>
			connection.fail(ErrorCode.Forbidden, `No presence of "${room}" for this connection`, id, {
				room
			});
		const served = this.#servedOf.get(connection)?.get(room)?.served;
		if (!served) return void refuse();
		this.#members(served)
			.then((members) => {
				// Left while the set was read: a request still gets its one answer, as any non-member's.
				if (!served.members.has(connection)) {
					if (id !== undefined) refuse();
					return;
				}
				if (id !== undefined)
					return void connection.sendReserved(REPLY_MESSAGE, { room, members }, id);
				served.unsynced.delete(connection);
				connection.sendReserved(PRESENCE_STATE, { room, members });
			})
			.catch((error) => {
				connection.report(error);
				connection.fail(ErrorCode.Internal, `The presence of "${room}" cannot be read now`, id, {
					room
				});
			});
	}

	/** The engine's change of a room's presence (by its engine name): to the members here, merged. */
	changed(name: string, change: PresenceChange): void {
		const served = this.#served.get(name);
		if (!served) return;
		for (const [user, entry] of Object.entries(change.set)) served.pending.set(user, entry);
		for (const user of change.removed) served.pending.set(user, null);
		if (!served.flushing) {
			served.flushing = true;
			setImmediate(() => this.#flush(served));
		}
		// A change means the engine answers again: members still waiting for the set after a failed
		// read get it now. (A joining member's read waits for its join's track and grace to settle.)
		if (served.unsynced.size && !served.reading && served.retryMs) {
			clearTimeout(served.retryTimer);
			served.retryMs = 0;
			this.#sync(served);
		}
	}

	#serve(name: string, room: string): ServedRoom {
		let served = this.#served.get(name);
		if (!served) {
			served = {
				name,
				room,
				members: new Set(),
				users: new Map(),
				unsynced: new Set(),
				pending: new Map(),
				flushing: false,
				reading: false,
				retryTimer: undefined,
				retryMs: 0,
				gone: false
			};
			this.#served.set(name, served);
		}
		return served;
	}

	#forget(served: ServedRoom): void {
		served.gone = true;
		clearTimeout(served.retryTimer);
		served.pending.clear();
		this.#served.delete(served.name);
	}

	/**
	 * Sends the changes gathered so far as one diff to every member that has the set, then keeps the
	 * window open for `COALESCE_MS`: what changes meanwhile goes out at its end, in one diff.
	 */
	#flush(served: ServedRoom): void {
		if (served.gone || !served.pending.size) {
			served.flushing = false;
			return;
		}
		const set: [string, PresenceEntry][] = [];
		const removed: string[] = [];
		for (const [user, entry] of served.pending) {
			if (entry) set.push([user, entry]);
			else removed.push(user);
		}
		served.pending.clear();
		const diff = new PreparedMessage(
			serverMessage(PRESENCE_DIFF, { room: served.room, set, removed })
		);
		for (const member of served.members) {
			if (!served.unsynced.has(member)) member.sendPrepared(diff);
		}
		setTimeout(() => this.#flush(served), COALESCE_MS).unref?.();
	}

	/**
	 * Reads the room's set and sends it to every member still waiting for it; when the engine cannot
	 * answer, tries again later (100 ms, doubling up to 2 s) until it can or nobody waits.
	 */
	#sync(served: ServedRoom): void {
		if (served.gone || served.reading || !served.unsynced.size) return;
		served.reading = true;
		const waiting = [...served.unsynced];
		this.#members(served).then(
			(members) => {
				served.reading = false;
				served.retryMs = 0;
				for (const member of waiting) {
					if (served.unsynced.delete(member)) {
						member.sendReserved(PRESENCE_STATE, { room: served.room, members });
					}
				}
				// Members that joined during the read may not be in it: they get a read of their own.
				this.#sync(served);
			},
			(error) => {
				served.reading = false;
				// One report per outage, not one per retry.
				if (!served.retryMs) waiting[0].report(error);
				served.retryMs = Math.min(MAX_RETRY_MS, served.retryMs * 2 || FIRST_RETRY_MS);
				clearTimeout(served.retryTimer);
				served.retryTimer = setTimeout(() => this.#sync(served), served.retryMs);
				served.retryTimer.unref?.();
			}
		);
	}

	/**
	 * The room's set as it goes on the wire: `[userId, entry]` pairs, never an object keyed by user
	 * id, which a client's safe JSON parse would strip of a user called `__proto__` (issue 17, item 5).
	 */
	async #members(served: ServedRoom): Promise<[string, PresenceEntry][]> {
		return Object.entries(await this.#engine!.members(served.name));
	}

	/** The route's presence options when `room` keeps presence there (a throwing `rooms` says no). */
	#optionsFor(route: Route, room: string): PresenceOptions | undefined {
		const presence = route.options.presence;
		if (!presence) return undefined;
		try {
			return (presence.rooms?.(room) ?? true) ? presence : undefined;
		} catch (error) {
			logFailure(error);
			return undefined;
		}
	}

	/** Who `connection` is present as in `room`, or undefined (no presence there, or `member` threw). */
	#memberOf(
		connection: Connection<unknown>,
		route: Route,
		room: string
	): PresenceMember | undefined {
		const presence = this.#optionsFor(route, room);
		if (!presence) return undefined;
		try {
			const member = presence.member(connection);
			if (typeof member?.id == 'string') return member;
			throw new TypeError(`presence.member returned no string id for "${room}"`);
		} catch (error) {
			connection.report(error);
			return undefined;
		}
	}
}
