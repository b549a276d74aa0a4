import type { StreamPosition } from '../../engine/engine.js';
import type { Connection } from '../connection.js';
import type { LocalRooms } from './local-rooms.js';
import type { PresenceRooms } from './presence.js';
import { expectedBack } from './presence-grace.js';

/**
 * The one owner of every connection's rooms. Joining and leaving (a client's request, the
 * application's `joinRoom`/`leaveRoom`, a close) all come here, and change three things together: the
 * connection's room set, the room's engine subscription (the room's first member here retains it,
 * its last releases it) and the connection's presence there.
 */
export class Memberships {
	#local: LocalRooms;
	#presence: PresenceRooms;

	constructor(local: LocalRooms, presence: PresenceRooms) {
		this.#local = local;
		this.#presence = presence;
	}

	/** Makes `connection` a member of `room` (nothing happens when it is one already). */
	join(connection: Connection<unknown>, room: string): void {
		const rooms = connection.rooms;
		if (rooms.has(room)) return;
		rooms.add(room);
		this.#local.add(connection, room);
		this.#presence.joined(connection, room);
	}

	/** A client's join: the membership at once, then the answer with what it missed since `since`. */
	joinAndReplay(
		connection: Connection<unknown>,
		room: string,
		since: StreamPosition | undefined,
		id: number | undefined
	): Promise<void> {
		this.join(connection, room);
		return this.#local.replay(connection, room, since, id);
	}

	/** Ends `connection`'s membership of `room`, and a replay of it in progress: a leave asked for. */
	leave(connection: Connection<unknown>, room: string): void {
		this.#leave(connection, room, false);
	}

	/**
	 * Leaves every room: the connection closed with `code`. Its presence ends at once when the client
	 * closed itself, else after the route's grace (`expectedBack`).
	 */
	leaveAll(connection: Connection<unknown>, code: number): void {
		const back = expectedBack(connection.closeCodeDecided, code);
		for (const room of connection.rooms) this.#leave(connection, room, back);
	}

	#leave(connection: Connection<unknown>, room: string, expectedBack: boolean): void {
		connection.cancelReplay(room);
		if (!connection.rooms.delete(room)) return;
		this.#local.remove(connection, room);
		this.#presence.left(connection, room, expectedBack);
	}
}
