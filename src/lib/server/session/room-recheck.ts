import { withDeadline } from '../../engine/errors.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { CALLBACK_TIMEOUT_MS } from '../callbacks.js';
import type { Connection } from '../connection.js';
import type { Memberships } from '../rooms/memberships.js';
import type { Route } from '../route.js';

// A STAND-IN for helper A's room re-check (issue 19), with the signature the brief fixes, so that
// `reauthorizeUser` can be built and tested before A's file lands: A's file replaces this one.

/**
 * Asks `authorizeJoin` again about every room the connection is in. A room refused is left at once
 * and the client is told with an `error` without id: `forbidden`, naming the room. A check that
 * throws or hangs keeps the room (it is reported). Never rejects.
 */
export async function recheckRooms(
	connection: Connection<unknown>,
	route: Route,
	memberships: Memberships
): Promise<void> {
	const { authorizeJoin } = route.options;
	if (!authorizeJoin || !connection.isOpen) return;
	await Promise.all(
		[...connection.rooms].map(async (room) => {
			try {
				const allowed = await withDeadline(
					() => authorizeJoin(connection, room),
					CALLBACK_TIMEOUT_MS,
					'authorizeJoin'
				);
				if ((allowed ?? true) || !connection.rooms.has(room)) return;
				memberships.leave(connection, room);
				const message = `No longer allowed in "${room}"`;
				connection.fail(ErrorCode.Forbidden, message, undefined, { room });
			} catch (error) {
				connection.report(error);
			}
		})
	);
}
