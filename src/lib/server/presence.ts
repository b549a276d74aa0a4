import { isRecord, REPLY_MESSAGE } from '../protocol/envelope.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { PRESENCE_DIFF, PRESENCE_STATE } from '../protocol/presence.js';
import type { Connection } from './connection.js';
import type { Engine, EnginePresence, PresenceChange, PresenceMember } from './engine.js';
import type { RoomMember } from './local-rooms.js';
import type { Route } from './route.js';

/**
 * A route's presence: who each connection is present as, and in which rooms. Presence costs the
 * engine a write per join and leave, so a route asks for it.
 *
 * @example
 * ```ts
 * const presence: PresenceOptions<User> = {
 * 	member: (connection) => ({ id: connection.authData.id, data: { name: connection.authData.name } }),
 * 	rooms: (room) => room.startsWith('team:')
 * };
 * ```
 */
export interface PresenceOptions<AuthData = unknown> {
	/**
	 * The user a connection is present as: an `id` that the user's tabs and devices share (they are
	 * merged into one entry with a connection count) and the public `data` the room's members see.
	 */
	member: (connection: Connection<AuthData>) => PresenceMember;
	/** Which rooms keep presence. Default: every room of the route. */
	rooms?: (room: string) => boolean;
}

/** What `PresenceRooms` needs of the server around it. */
interface PresenceHost {
	/** The route a connection came by (undefined once it is gone). */
	routeOf(connection: RoomMember): Route | undefined;
	/** The local members of a room. */
	membersOf(room: string): Iterable<RoomMember>;
	report(connection: Connection<unknown> | undefined, error: unknown): void;
}

/**
 * Presence for the rooms of routes that ask for it: every join tracks the connection in the engine
 * and sends it the room's whole presence (`presence.state`), every leave or close untracks it, and
 * the engine's changes go to the room's members here as `presence.diff`. Only members of a room see
 * its presence, so `authorizeJoin` decides who sees it as it decides who joins.
 *
 * @example
 * ```ts
 * const presence = new PresenceRooms(engine, host);
 * presence.joined(connection, 'team:acme');
 * ```
 */
export class PresenceRooms {
	#engine: EnginePresence | undefined;
	#host: PresenceHost;

	constructor(engine: Engine, routes: readonly Route[], host: PresenceHost) {
		this.#engine = engine.presence;
		this.#host = host;
		if (!this.#engine && routes.some((route) => route.options.presence)) {
			throw new TypeError(
				'A route asks for presence, and this engine does not keep presence (MemoryEngine does)'
			);
		}
	}

	/** `connection` joined `room`: tracks it, then sends it who is there. */
	joined(connection: Connection<unknown>, room: string): void {
		const member = this.#memberOf(connection, room);
		if (!member || !this.#engine) return;
		const engine = this.#engine;
		Promise.resolve()
			.then(() => engine.track(room, connection.id, member))
			.then(() => this.#sendState(connection, room))
			.catch((error) => this.#host.report(connection, error));
	}

	/** `connection` left `room` (or closed): its presence there ends. */
	left(connection: Connection<unknown>, room: string): void {
		if (!this.#engine || !this.#enabled(connection, room)) return;
		const engine = this.#engine;
		Promise.resolve()
			.then(() => engine.untrack(room, connection.id))
			.catch((error) => this.#host.report(connection, error));
	}

	/** `presence.get {room}`: the room's whole presence again, to a member of it. */
	get(connection: Connection<unknown>, data: unknown, id: number | undefined): void {
		const room = isRecord(data) ? data.room : undefined;
		if (typeof room != 'string') {
			return void connection.fail(ErrorCode.Malformed, 'presence.get needs {"room": string}', id);
		}
		if (!connection.joinedRooms.has(room) || !this.#enabled(connection, room)) {
			const refusal = `No presence of "${room}" for this connection`;
			return void connection.fail(ErrorCode.Forbidden, refusal, id, { room });
		}
		this.#sendState(connection, room, id).catch((error) => this.#host.report(connection, error));
	}

	/** The engine's change of `room`: to every member here that sees the room's presence. */
	changed(room: string, change: PresenceChange): void {
		for (const member of this.#host.membersOf(room)) {
			if (member.authenticated && this.#enabled(member, room)) {
				member.sendReserved(PRESENCE_DIFF, { room, ...change });
			}
		}
	}

	/** The room's whole presence, as `presence.state`, or as the `reply` to a request (with `id`). */
	async #sendState(connection: Connection<unknown>, room: string, id?: number): Promise<void> {
		const members = await this.#engine!.members(room);
		if (!connection.joinedRooms.has(room)) return;
		connection.sendReserved(
			id === undefined ? PRESENCE_STATE : REPLY_MESSAGE,
			{ room, members },
			id
		);
	}

	#enabled(connection: RoomMember, room: string): boolean {
		return !!this.#optionsFor(connection, room);
	}

	/** The route's presence options when `room` keeps presence there (a throwing `rooms` says no). */
	#optionsFor(connection: RoomMember, room: string): PresenceOptions | undefined {
		const presence = this.#host.routeOf(connection)?.options.presence;
		if (!presence) return undefined;
		try {
			return (presence.rooms?.(room) ?? true) ? presence : undefined;
		} catch (error) {
			this.#host.report(undefined, error);
			return undefined;
		}
	}

	/** Who `connection` is present as in `room`, or undefined (no presence there, or `member` threw). */
	#memberOf(connection: Connection<unknown>, room: string): PresenceMember | undefined {
		const presence = this.#optionsFor(connection, room);
		if (!presence) return undefined;
		try {
			const member = presence.member(connection);
			if (typeof member?.id == 'string') return member;
			throw new TypeError(`presence.member returned no string id for "${room}"`);
		} catch (error) {
			this.#host.report(connection, error);
			return undefined;
		}
	}
}
