import { JOIN_MESSAGE, LEAVE_MESSAGE, REPLY_MESSAGE } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { Connection } from '../connection.js';
import type { Memberships } from '../rooms/memberships.js';
import { requestedRoom, requestedSince } from './client-input.js';
import { authorizeRoom } from './room-recheck.js';
import type { Session } from './session.js';

/**
 * The `room.join` and `room.leave` requests of clients, applied per connection in the order it sent
 * them: a join waits for `authorizeJoin`, and a leave sent right after it must not overtake it (the
 * client would stay in a room it left). Only the decision waits in line; the join's history replay
 * runs on its own once the membership is applied.
 */
export class RoomRequests {
	#memberships: Memberships;
	/** The last queued request of each connection: the next one starts after it. */
	#queues = new WeakMap<Connection<unknown>, Promise<void>>();

	constructor(memberships: Memberships) {
		this.#memberships = memberships;
	}

	join(session: Session, data: unknown, id: number | undefined): void {
		this.#enqueue(session.connection, () => this.#join(session, data, id));
	}

	leave(session: Session, data: unknown, id: number | undefined): void {
		this.#enqueue(session.connection, () => this.#leave(session, data, id));
	}

	#enqueue(connection: Connection<unknown>, request: () => Promise<void> | void): void {
		const previous = this.#queues.get(connection) ?? Promise.resolve();
		const next: Promise<void> = previous
			.then(request)
			.catch((error) => connection.report(error))
			// An idle connection keeps no settled queue: only one with requests in flight has an entry.
			.finally(() => {
				if (this.#queues.get(connection) === next) this.#queues.delete(connection);
			});
		this.#queues.set(connection, next);
	}

	async #join(session: Session, data: unknown, id: number | undefined): Promise<void> {
		const { connection, route } = session;
		const room = requestedRoom(session, JOIN_MESSAGE, data, id);
		if (room === undefined || !connection.isOpen) return;
		if (
			!connection.joinedRooms.has(room) &&
			connection.joinedRooms.size >= route.maxRoomsPerConnection
		) {
			const limit = `Already in ${route.maxRoomsPerConnection} rooms: leave one first`;
			return void connection.fail(ErrorCode.TooManyRooms, limit, id, { room });
		}
		// A failure (threw, rejected, hung past 5 s) is the server's, not a refusal: the client is told so.
		const verdict = await authorizeRoom(connection, route, room);
		if (verdict != 'allowed') {
			const [code, message] =
				verdict == 'refused'
					? [ErrorCode.Forbidden, `Not allowed to join "${room}"`]
					: [ErrorCode.Internal, `Could not decide whether "${room}" may be joined`];
			return void connection.fail(code, message, id, { room });
		}
		if (!connection.isOpen) return;
		// The membership is applied at once; the replay after it need not keep the line waiting.
		this.#memberships
			.joinAndReplay(connection, room, requestedSince(data), id)
			.catch((error) => connection.report(error));
	}

	#leave(session: Session, data: unknown, id: number | undefined): void {
		const room = requestedRoom(session, LEAVE_MESSAGE, data, id);
		if (room === undefined) return;
		session.connection.leaveRoom(room);
		if (id !== undefined) session.connection.sendReserved(REPLY_MESSAGE, { room }, id);
	}
}
