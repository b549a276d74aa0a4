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
	/** The room this delivery was published to, if any. */
	readonly room?: string;
	/** The id of the request this answers, if any. */
	readonly id?: number;
}

/**
 * A message as a runesocket server sends it: every server message has a name, data and a timestamp.
 *
 * @example
 * ```ts
 * const message: ServerMessage = { name: 'room.joined', data: { room: 'a' }, timestamp: Date.now() };
 * ```
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
}

/**
 * A message as the client sends it.
 *
 * @example
 * ```ts
 * const message: OutboundMessage = { name: 'incident.create', data: { title: 'DB down' }, id: 7 };
 * ```
 */
export interface OutboundMessage {
	readonly name: string;
	readonly data: unknown;
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
 * const dialect: Dialect = { ...envelopeDialect, ping: 'ping' };
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
	/** The frame that joins a room. */
	join(room: string): string;
	/** The frame that leaves a room. */
	leave(room: string): string;
}

/**
 * Heartbeat frames of runesocket's protocol: the client sends `"2"`, the server answers `"3"`.
 *
 * @example
 * ```ts
 * socket.send(Heartbeat.Ping);
 * ```
 */
export const Heartbeat = { Ping: '2', Pong: '3' } as const;

/**
 * Message names the protocol itself uses. Applications should not define messages with these names.
 *
 * @example
 * ```ts
 * if (message.name === ReservedName.Error) showError(message.data);
 * ```
 */
export const ReservedName = {
	Auth: 'auth',
	Join: 'room.join',
	Leave: 'room.leave',
	Connected: 'connected',
	Joined: 'room.joined',
	Reply: 'reply',
	Error: 'error'
} as const;

/**
 * Whether a value is a plain JSON object (not null, not an array).
 *
 * @example
 * ```ts
 * isRecord({ a: 1 }); // true
 * ```
 */
export function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value == 'object' && value !== null && !Array.isArray(value);
}

/**
 * Parses a JSON text frame safely into an object, or throws a `TypeError` that says what was wrong.
 *
 * @example
 * ```ts
 * parseObjectFrame('{"type":"pong"}'); // { type: 'pong' }
 * ```
 */
export function parseObjectFrame(frame: string): Record<string, unknown> {
	const value = safeJsonParse(frame);
	if (!isRecord(value))
		throw new TypeError(`Expected a JSON object frame, got: ${frame.slice(0, 80)}`);
	return value;
}

/**
 * runesocket's own protocol, the default: `{name, data, timestamp, room?, id?}` from the server,
 * `{name, data, id?}` from the client, `"2"`/`"3"` heartbeats, first-frame `auth`, and
 * `room.join`/`room.leave` messages. PROTOCOL.md is its full description.
 *
 * @example
 * ```ts
 * envelopeDialect.encode({ name: 'typing', data: { user: 'ada' } }); // '{"name":"typing","data":{"user":"ada"}}'
 * ```
 */
export const envelopeDialect: Dialect = {
	ping: Heartbeat.Ping,
	decode(frame) {
		if (frame == Heartbeat.Pong) return null;
		const message = parseObjectFrame(frame);
		if (typeof message.name != 'string') throw new TypeError('Envelope without a string "name"');
		return message as unknown as InboundMessage;
	},
	encode: (message) => JSON.stringify(message),
	auth: (token) => JSON.stringify({ name: ReservedName.Auth, data: { token } }),
	join: (room) => JSON.stringify({ name: ReservedName.Join, data: { room } }),
	leave: (room) => JSON.stringify({ name: ReservedName.Leave, data: { room } })
};
