import { safeJsonParse } from './safe-json.js';

/**
 * A message as it arrives, whatever dialect carried it.
 *
 * @example
 * ```ts
 * const message: InboundMessage = { name: 'incident.created', data: { uuid: 'a1' }, timestamp: 1 };
 * ```
 */
export interface InboundMessage {
	/** The message name handlers are registered under. */
	readonly name: string;
	/** The payload, not yet validated. */
	readonly data: unknown;
	/** When the server emitted it, in ms since the epoch, if the dialect says. */
	readonly timestamp?: number;
	/** The room this message was published to, if any. */
	readonly room?: string;
	/** The id of the request this answers, if any. */
	readonly id?: number;
	/** On room messages: the message's place in the room's stream (previous + 1). */
	readonly offset?: number;
	/** On room messages: the room stream's epoch, which changes whenever its history was lost. */
	readonly epoch?: string;
	/**
	 * On room messages that carry only a latest value: its conflation key. A newer message of the
	 * same room, name and key supersedes it, and may have been sent instead (PROTOCOL.md, "Conflation").
	 */
	readonly conflationKey?: string;
}

/**
 * A place in a room's stream: the offset of the last message seen, in a given epoch. A client
 * rejoining with it asks for everything after it.
 *
 * @example
 * ```ts
 * client.joinRoom('project:1', { offset: 41, epoch: 'k3x9' });
 * ```
 */
export interface StreamPosition {
	readonly offset: number;
	readonly epoch: string;
}

/**
 * A message as a runesocket server sends it: every server message has a name, data and a timestamp.
 */
export interface ServerMessage {
	readonly name: string;
	readonly data: unknown;
	/** When the server emitted it, in ms since the epoch. */
	readonly timestamp: number;
	/** The room it was published to, if any. */
	readonly room?: string;
	/** The request it answers, if any. */
	readonly id?: number;
	/** On room messages that carry only a latest value: its conflation key. */
	readonly conflationKey?: string;
}

/**
 * Builds a message as a runesocket server sends it, stamped now (or at `timestamp`): the one place the
 * server's envelope is spelled out. `room`, `id` and `conflationKey` are left out when not given
 * (JSON drops `undefined` fields).
 */
export function serverMessage(
	name: string,
	data: unknown,
	{
		room,
		id,
		conflationKey,
		timestamp = Date.now()
	}: { room?: string; id?: number; conflationKey?: string; timestamp?: number } = {}
): ServerMessage {
	return { name, data, timestamp, room, id, conflationKey };
}

/**
 * Serialises a room delivery: a message that has a place in `room`'s stream. It goes on the wire as
 * the array `[name, data, room, offset, epoch]`, with its conflation key as a sixth item when it has
 * one (PROTOCOL.md, "Room deliveries"): a third of the bytes of the same message as an object, which
 * matters because it is the frame a server writes most, once per member. Room deliveries carry no
 * timestamp: put one in `data` when it matters.
 */
export function roomDeliveryFrame(
	message: {
		readonly name: string;
		readonly data?: unknown;
		readonly offset?: unknown;
		readonly epoch?: unknown;
		readonly conflationKey?: unknown;
	},
	room: string
): string {
	const { name, data, offset, epoch, conflationKey } = message;
	return JSON.stringify(
		typeof conflationKey == 'string'
			? [name, data, room, offset, epoch, conflationKey]
			: [name, data, room, offset, epoch]
	);
}

/**
 * A message as the client sends it.
 */
export interface OutboundMessage {
	readonly name: string;
	readonly data: unknown;
	/**
	 * On requests that may be sent again (exactly-once requests): the key the client made for it,
	 * the same on every attempt. The server runs its handlers once per key and answers a repeat
	 * with the first answer. Written before `id`, which stays last on the wire.
	 */
	readonly key?: string;
	/** Present on requests: the server answers with the same id. */
	readonly id?: number;
}

/**
 * How a client speaks to one kind of server: how frames map to messages, how it pings, authenticates
 * and joins rooms. runesocket's own protocol is `envelopeDialect`; `typeKeyedDialect` and
 * `eventKeyedDialect` speak to servers shaped like other common APIs, and any object of this shape
 * works too.
 *
 * @example
 * ```ts
 * const dialect: Dialect = { ...typeKeyedDialect, ping: 'ping' };
 * new SocketClient(url, { protocol: dialect });
 * ```
 */
export interface Dialect {
	/** The text frame sent as a heartbeat. Any inbound frame counts as the answer. */
	readonly ping: string;
	/** Turns one text frame into a message; `null` for frames with none (pongs). Throws when malformed. */
	decode(frame: string): InboundMessage | null;
	/** Turns a message into a text frame. */
	encode(message: OutboundMessage): string;
	/** The first frame of a connection, carrying the token. Omit when the server authenticates otherwise. */
	auth?(token: string): string;
	/** The frame that joins a room, asking for what followed `since` when the client has a position. */
	join(room: string, since?: StreamPosition): string;
	/** The frame that leaves a room. */
	leave(room: string): string;
}

// Each name is its own constant so bundles inline the ones they use; the objects below gather them.

/** The heartbeat ping frame, sent by the client. */
export const PING_FRAME = '2';
/** The heartbeat pong frame, the server's answer. */
export const PONG_FRAME = '3';
/**
 * How a read report starts: `4:<n>`, sent by the client, says it has read `n` frames of this
 * connection so far (PROTOCOL.md, "Read reports"). The server sends a reporting client no more than a
 * window of frames ahead of what it read, and conflates what waits meanwhile.
 */
export const READ_REPORT_PREFIX = '4:';
/** A client reports what it read once this many frames came since its last report… */
export const READ_REPORT_FRAMES = 256;
/** …and at most once per this many milliseconds (a timer sends the report a closed gate held back). */
export const READ_REPORT_INTERVAL_MS = 100;
// The message names the protocol itself uses; an application's messages never take these names.

/**
 * Client → server: `{token}`. The first frame of a token-authenticated connection, and, on an open
 * connection, a refreshed token (after `auth.refresh`, or whenever the client has a new one).
 */
export const AUTH_MESSAGE = 'auth';
/** Server → client: `{expiresIn}` (ms): the connection's authentication expires; send a new token. */
export const AUTH_REFRESH_MESSAGE = 'auth.refresh';
/** Client → server: `{room, since?}`. */
export const JOIN_MESSAGE = 'room.join';
/** Client → server: `{room}`. */
export const LEAVE_MESSAGE = 'room.leave';
/** Server → client after authentication: `{id, …}`. */
export const CONNECTED_MESSAGE = 'connected';
/** Server → client, answering a join: `{room, offset, epoch, recovered}`. */
export const JOINED_MESSAGE = 'room.joined';
/** Server → client, answering a request (same `id`). */
export const REPLY_MESSAGE = 'reply';
/** Server → client: `{code, message}`, with the request's `id` when it answers one. */
export const ERROR_MESSAGE = 'error';
/**
 * What a keyed room message is the latest value of, as one string: its room, name and conflation key.
 * A newer message with the same one supersedes it (PROTOCOL.md, "Conflation"); the server's backlog
 * and replays and the LiveSocket's inbox compare these, so both ends mean the same three by it.
 */
export function conflationId(room: unknown, name: unknown, conflationKey: string): string {
	return JSON.stringify([room, name, conflationKey]);
}

/** The longest request `key` a server accepts (PROTOCOL.md, "Exactly-once requests"). */
export const MAX_REQUEST_KEY_LENGTH = 64;

/**
 * Whether a value is a plain JSON object (not null, not an array).
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value == 'object' && !!value && !Array.isArray(value);
}

/**
 * Parses a JSON text frame safely into an object, or throws a `TypeError` that says what was wrong.
 */
export function parseObjectFrame(frame: string): Record<string, unknown> {
	const value = safeJsonParse(frame);
	if (!isRecord(value)) throw new TypeError(`Not a JSON object: ${frame.slice(0, 80)}`);
	return value;
}

/**
 * runesocket's own protocol, the default: `{name, data, timestamp, room?, id?}` from the server and
 * room deliveries as `[name, data, room, offset, epoch, conflationKey?]`, `{name, data, id?}` from the client, `"2"`/`"3"` heartbeats, first-frame `auth`, and
 * `room.join`/`room.leave` messages. PROTOCOL.md is its full description.
 */
export const envelopeDialect: Dialect = {
	ping: PING_FRAME,
	decode(frame) {
		if (frame == PONG_FRAME) return null;
		const value = safeJsonParse(frame);
		const message = Array.isArray(value)
			? {
					name: value[0],
					data: value[1],
					room: value[2],
					offset: value[3],
					epoch: value[4],
					conflationKey: value[5]
				}
			: value;
		if (!isRecord(message) || typeof message.name != 'string') {
			// The client reports the frame itself beside this message.
			throw new TypeError('No string "name"');
		}
		return message as unknown as InboundMessage;
	},
	encode: (message) => JSON.stringify(message),
	auth: (token) => JSON.stringify({ name: AUTH_MESSAGE, data: { token } }),
	join: (room, since) => JSON.stringify({ name: JOIN_MESSAGE, data: { room, since } }),
	leave: (room) => JSON.stringify({ name: LEAVE_MESSAGE, data: { room } })
};
