import { serverMessage, type ServerMessage } from '../protocol/envelope.js';
import { describeIssues, validateMessage, type MessageDefinition } from '../protocol/message.js';
import { EVERYONE } from './engine.js';

/**
 * The default of `maxMessageSize` for a server and a publisher: half a route's default
 * `maxBufferedBytes`, so one message never fills a reader's buffer alone.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 512 * 1024;

/**
 * The message a typed publish sends (`server.publish`, `RedisPublisher.publish`): the data checked by
 * the definition's schema (a `TypeError` when it fails), the room name checked (not `EVERYONE`,
 * which a publish without a room reaches, and not empty), and the whole message at most
 * `maxMessageSize` bytes as JSON (a `RangeError` past it). One place, so a process without sockets
 * refuses exactly what a server does.
 */
export async function typedMessage<Data>(
	definition: MessageDefinition<Data>,
	data: Data,
	room: string | undefined,
	maxMessageSize: number
): Promise<ServerMessage> {
	const result = await validateMessage(definition, data);
	if (result.issues) {
		throw new TypeError(`Cannot publish "${definition.name}": ${describeIssues(result.issues)}`);
	}
	if (room === EVERYONE) throw new TypeError('Publish without a room to reach everyone');
	if (room === '') throw new TypeError('Cannot publish to an empty room name');
	const message = serverMessage(definition.name, data, { room });
	checkMessageSize(message, `"${definition.name}"`, maxMessageSize);
	return message;
}

/**
 * Refuses up front, with a `RangeError` naming `what`, a message no reader could take in one piece.
 */
export function checkMessageSize(message: unknown, what: string, maxMessageSize: number): void {
	const text = typeof message == 'string' ? message : JSON.stringify(message);
	const size = Buffer.byteLength(text ?? '');
	if (size > maxMessageSize) {
		throw new RangeError(`${what} is ${size} bytes, more than maxMessageSize (${maxMessageSize})`);
	}
}
