import { isRecord, MAX_REQUEST_KEY_LENGTH, type StreamPosition } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { EVERYONE } from '../../engine/engine.js';
import { isStreamPosition } from '../../engine/history.js';
import { safeJsonParse } from '../../protocol/safe-json.js';
import type { Connection } from '../connection.js';
import type { Route } from '../route.js';

// The rules for what a client sends, in one place: every handler of a client's request reads its
// fields through these functions, with the session that sent it (and so its route's options).

/** Who sent a request: a `Session` is one. */
export interface Sender {
	readonly connection: Connection<unknown>;
	readonly route: Route;
}

/** Longest room name a client may name in any request (join, leave, presence.get). */
export const MAX_ROOM_LENGTH = 256;

/** How much of a message name the server repeats: the client sent it, it need not get it all again. */
const SHOWN_NAME_LENGTH = 64;

/**
 * The room a client's `request` names in its `room` field: a string of 1 to `MAX_ROOM_LENGTH`
 * characters other than `"*"` (the room of every connection, which no client joins, leaves or asks
 * about). Anything else is answered `malformed` (saying what a name must be, echoing nothing the
 * client sent) and gives undefined, so that no handler keeps, looks up or echoes a name longer than
 * the cap.
 */
export function requestedRoom(
	{ connection }: Sender,
	request: string,
	data: unknown,
	id: number | undefined
): string | undefined {
	const room = isRecord(data) ? data.room : undefined;
	if (typeof room == 'string' && room && room.length <= MAX_ROOM_LENGTH && room != EVERYONE) {
		return room;
	}
	const rule = `${request} needs {"room": string} of 1 to ${MAX_ROOM_LENGTH} characters, not "${EVERYONE}"`;
	connection.fail(ErrorCode.Malformed, rule, id);
	return undefined;
}

/** Where a `room.join` asks its replay to start (`since`), when it names a valid stream position. */
export function requestedSince(data: unknown): StreamPosition | undefined {
	return isRecord(data) && isStreamPosition(data.since) ? data.since : undefined;
}

/** The id of a parsed client message that is a request (a finite number), else undefined. */
export function requestIdOf(message: unknown): number | undefined {
	return isRecord(message) && Number.isFinite(message.id) ? (message.id as number) : undefined;
}

/**
 * The `key` of a client's request to application handlers (exactly-once requests): a string of 1 to
 * `MAX_REQUEST_KEY_LENGTH` characters, on a message with an `id`. No key gives undefined. A key on
 * a message without an id (which gets no answer to repeat), or one that is not such a string, is
 * answered `malformed` (with the id when there is one) and gives `false`: nothing is run for it.
 */
export function requestedKey(
	{ connection }: Sender,
	message: Record<string, unknown>,
	id: number | undefined
): string | undefined | false {
	const { key } = message;
	if (key === undefined) return undefined;
	if (id === undefined) {
		connection.fail(ErrorCode.Malformed, 'A request key needs a request id: {"key": …, "id": 1}');
		return false;
	}
	if (typeof key == 'string' && key && key.length <= MAX_REQUEST_KEY_LENGTH) return key;
	const rule = `"key" must be a string of 1 to ${MAX_REQUEST_KEY_LENGTH} characters`;
	connection.fail(ErrorCode.Malformed, rule, id);
	return false;
}

/** A message name as errors and reports show it: cut to 64 characters, since a client chooses it. */
export function shownName(name: string): string {
	return name.length > SHOWN_NAME_LENGTH ? `${name.slice(0, SHOWN_NAME_LENGTH)}…` : name;
}

/** The id of a request frame as our clients write it (`…,"id":7}`), read without parsing it. */
const TRAILING_ID = /"id":(\d{1,15})\}\s*$/;

/**
 * The request id at the end of a frame, for answering a frame the rate limit refuses: refused frames
 * are never parsed, so that a flood costs no more than counting it.
 */
export function trailingRequestId(frame: string): number | undefined {
	const match = TRAILING_ID.exec(frame.slice(-32));
	return match ? Number(match[1]) : undefined;
}

/**
 * The id of a first frame sent as a request (`{"name":"auth","data":{…},"id":1}`): it is answered
 * with a `reply` once the token passed (a refusal closes the connection, which ends every request).
 */
export function authRequestId(frame: string): number | undefined {
	if (!/^\s*\{/.test(frame)) return undefined; // a bare token, or a JSON string
	try {
		return requestIdOf(safeJsonParse(frame));
	} catch {
		return undefined; // a bare token that happens to start with "{"
	}
}
