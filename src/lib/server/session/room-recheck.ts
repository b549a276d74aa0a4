import { ErrorCode } from '../../protocol/error-codes.js';
import { withDeadline } from '../../engine/errors.js';
import { CALLBACK_TIMEOUT_MS } from '../callbacks.js';
import type { Connection } from '../connection.js';
import type { Memberships } from '../rooms/memberships.js';
import type { Route } from '../route.js';

/** What became of `authorizeJoin`. */
export type JoinVerdict = 'allowed' | 'refused' | 'failed';

/**
 * How often a room is asked about again when the connection's auth data changed while
 * `authorizeJoin` was deciding (a refresh landed): the answer must be about the data it has now.
 */
const MAX_ASKS = 3;

/**
 * `authorizeJoin`'s answer about `room` for the connection's current auth data (allowed when the
 * route has none). One that throws, rejects or hangs past 5 s is a failure of the server, not a
 * refusal: it is reported. An answer given about auth data that a refresh has replaced meanwhile is
 * asked for again.
 */
export async function authorizeRoom(
	connection: Connection<unknown>,
	route: Route,
	room: string
): Promise<JoinVerdict> {
	const { authorizeJoin } = route.options;
	if (!authorizeJoin) return 'allowed';
	let verdict: JoinVerdict = 'failed';
	for (let ask = 0; ask < MAX_ASKS; ask++) {
		const asked = connection.authData;
		try {
			const allowed = await withDeadline(
				() => authorizeJoin(connection, room),
				CALLBACK_TIMEOUT_MS,
				'authorizeJoin'
			);
			verdict = (allowed ?? true) ? 'allowed' : 'refused';
		} catch (error) {
			connection.report(error);
			return 'failed';
		}
		if (connection.authData === asked) break;
	}
	return verdict;
}

/**
 * Asks `authorizeJoin` again about every room the connection is in (after an accepted token
 * refresh, and for `reauthorizeUser`), all at once. A room refused is left at once (presence too)
 * and the client is told with an `error` without id: `forbidden`, naming the room. A check that
 * throws or hangs keeps the room (it is reported): a failing check must not empty a user's rooms.
 * Never rejects.
 */
export async function recheckRooms(
	connection: Connection<unknown>,
	route: Route,
	memberships: Memberships
): Promise<void> {
	if (!route.options.authorizeJoin || !connection.isOpen) return;
	await Promise.all(
		[...connection.rooms].map((room) =>
			recheckRoom(connection, route, memberships, room).catch((error) => connection.report(error))
		)
	);
}

/** Asks about one room; leaves it, telling the client, when it is refused. */
async function recheckRoom(
	connection: Connection<unknown>,
	route: Route,
	memberships: Memberships,
	room: string
): Promise<void> {
	const verdict = await authorizeRoom(connection, route, room);
	// Left meanwhile (by the client, or by a check that ran beside this one): nothing to tell.
	if (verdict != 'refused' || !connection.rooms.has(room)) return;
	memberships.leave(connection, room);
	const message = `No longer allowed in "${room}"`;
	connection.fail(ErrorCode.Forbidden, message, undefined, { room });
}
