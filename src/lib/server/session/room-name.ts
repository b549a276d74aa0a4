import { isRecord } from '../../protocol/envelope.js';
import { EVERYONE } from '../../engine/engine.js';

/** Longest room name a client may name in any request (join, leave, presence.get). */
export const MAX_ROOM_LENGTH = 256;

/**
 * The room a client's request names in its `room` field, or undefined when that is not a name a
 * client may use: a string of 1 to `MAX_ROOM_LENGTH` characters other than `"*"` (the room of every
 * connection, which no client joins, leaves or asks about). Every request that carries a room name
 * goes through it, so that no handler keeps, looks up or echoes a name longer than the cap.
 *
 * @example
 * ```ts
 * clientRoomName({ room: 'team:acme' }); // 'team:acme'
 * clientRoomName({ room: 'x'.repeat(60_000) }); // undefined
 * ```
 */
export function clientRoomName(data: unknown): string | undefined {
	const room = isRecord(data) ? data.room : undefined;
	if (typeof room != 'string' || !room || room.length > MAX_ROOM_LENGTH || room == EVERYONE) {
		return undefined;
	}
	return room;
}

/**
 * The `malformed` answer to a `request` whose `room` is not a name a client may use: it says what a
 * name must be, and echoes nothing the client sent.
 *
 * @example
 * ```ts
 * connection.fail(ErrorCode.Malformed, roomNameRule('room.leave'), id);
 * ```
 */
export function roomNameRule(request: string): string {
	return `${request} needs {"room": string} of 1 to ${MAX_ROOM_LENGTH} characters, not "${EVERYONE}"`;
}
