import { isRecord, REPLY_MESSAGE } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { CALLBACK_TIMEOUT_MS } from './callbacks.js';
import { withDeadline } from '../../engine/errors.js';
import type { Connection } from '../connection.js';
import { isStreamPosition } from '../../engine/history.js';
import type { LocalRooms } from '../rooms/local-rooms.js';
import { clientRoomName, roomNameRule } from './room-name.js';
import type { Session } from './session.js';

/** What became of `authorizeJoin`. */
type JoinVerdict = 'allowed' | 'refused' | 'failed';

/**
 * The `room.join` and `room.leave` requests of clients, applied per connection in the order it sent
 * them: a join waits for `authorizeJoin`, and a leave sent right after it must not overtake it (the
 * client would stay in a room it left). Only the decision waits in line; the join's history replay
 * runs on its own once the membership is applied.
 *
 * @example
 * ```ts
 * const requests = new RoomRequests(rooms, report);
 * requests.join(session, { room: 'project:1' }, 7);
 * requests.leave(session, { room: 'project:1' }, 8);
 * ```
 */
export class RoomRequests {
	#rooms: LocalRooms;
	#report: (connection: Connection<unknown>, error: unknown) => void;
	/** The last queued request of each connection: the next one starts after it. */
	#queues = new WeakMap<Connection<unknown>, Promise<void>>();

	constructor(
		rooms: LocalRooms,
		report: (connection: Connection<unknown>, error: unknown) => void
	) {
		this.#rooms = rooms;
		this.#report = report;
	}

	join(session: Session, data: unknown, id: number | undefined): void {
		this.#enqueue(session.connection, () => this.#join(session, data, id));
	}

	leave(session: Session, data: unknown, id: number | undefined): void {
		this.#enqueue(session.connection, () => this.#leave(session.connection, data, id));
	}

	#enqueue(connection: Connection<unknown>, request: () => Promise<void> | void): void {
		const previous = this.#queues.get(connection) ?? Promise.resolve();
		const next: Promise<void> = previous
			.then(request)
			.catch((error) => this.#report(connection, error))
			// An idle connection keeps no settled queue: only one with requests in flight has an entry.
			.finally(() => {
				if (this.#queues.get(connection) === next) this.#queues.delete(connection);
			});
		this.#queues.set(connection, next);
	}

	async #join(session: Session, data: unknown, id: number | undefined): Promise<void> {
		const { connection, route } = session;
		const room = clientRoomName(data);
		if (room === undefined) {
			return void connection.fail(ErrorCode.Malformed, roomNameRule('room.join'), id);
		}
		if (!connection.isOpen) return;
		if (
			!connection.joinedRooms.has(room) &&
			connection.joinedRooms.size >= route.maxRoomsPerConnection
		) {
			const limit = `Already in ${route.maxRoomsPerConnection} rooms: leave one first`;
			return void connection.fail(ErrorCode.TooManyRooms, limit, id, { room });
		}
		const verdict = await this.#authorize(session, room);
		if (verdict != 'allowed') {
			const [code, message] =
				verdict == 'refused'
					? [ErrorCode.Forbidden, `Not allowed to join "${room}"`]
					: [ErrorCode.Internal, `Could not decide whether "${room}" may be joined`];
			return void connection.fail(code, message, id, { room });
		}
		if (!connection.isOpen) return;
		const since = isRecord(data) && isStreamPosition(data.since) ? data.since : undefined;
		// Membership is applied synchronously inside join(); the replay after it need not hold the line.
		this.#rooms.join(connection, room, since, id).catch((error) => this.#report(connection, error));
	}

	/**
	 * `authorizeJoin`'s answer. One that throws, rejects or hangs past 5 s is a failure of the server,
	 * not a refusal: it is reported, and the client is told so (`internal_error`).
	 */
	async #authorize({ connection, route }: Session, room: string): Promise<JoinVerdict> {
		const { authorizeJoin } = route.options;
		if (!authorizeJoin) return 'allowed';
		try {
			const allowed = await withDeadline(
				() => authorizeJoin(connection, room),
				CALLBACK_TIMEOUT_MS,
				'authorizeJoin'
			);
			return (allowed ?? true) ? 'allowed' : 'refused';
		} catch (error) {
			this.#report(connection, error);
			return 'failed';
		}
	}

	#leave(connection: Connection<unknown>, data: unknown, id: number | undefined): void {
		const room = clientRoomName(data);
		if (room === undefined) {
			return void connection.fail(ErrorCode.Malformed, roomNameRule('room.leave'), id);
		}
		connection.leaveRoom(room);
		if (id !== undefined) connection.sendReserved(REPLY_MESSAGE, { room }, id);
	}
}
