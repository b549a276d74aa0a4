import { serverMessage, type ServerMessage } from '../protocol/envelope.js';
import {
	describeIssues,
	MAX_CONFLATION_KEY_LENGTH,
	validateMessage,
	type MessageDefinition
} from '../protocol/message.js';
import { EVERYONE } from './engine.js';

/**
 * The default of `maxMessageSize` for a server and a publisher: half a route's default
 * `maxBufferedBytes`, so one message never fills a reader's buffer alone.
 */
export const DEFAULT_MAX_MESSAGE_SIZE = 512 * 1024;

/**
 * Where a typed publish goes (`room`, default every connection) and the conflation key it gives its
 * message in place of the definition's (`null`: none, whatever the definition says).
 */
export interface TypedPublishOptions {
	readonly room?: string;
	readonly conflationKey?: string | number | null;
}

/**
 * The message a typed publish sends (`server.publish`, `RedisPublisher.publish`): the data checked by
 * the definition's schema (a `TypeError` when it fails), the room name checked (not `EVERYONE`,
 * which a publish without a room reaches, and not empty), its conflation key (the publish's, else
 * the definition's) checked, and the whole message at most `maxMessageSize` bytes as JSON (a
 * `RangeError` past it). One place, so a process without sockets refuses exactly what a server does.
 */
export async function typedMessage<Data>(
	definition: MessageDefinition<Data>,
	data: Data,
	{ room, conflationKey }: TypedPublishOptions,
	maxMessageSize: number
): Promise<ServerMessage> {
	const result = await validateMessage(definition, data);
	if (result.issues) {
		throw new TypeError(`Cannot publish "${definition.name}": ${describeIssues(result.issues)}`);
	}
	if (room === EVERYONE) throw new TypeError('Publish without a room to reach everyone');
	if (room === '') throw new TypeError('Cannot publish to an empty room name');
	// Only room messages have a key: a publish to everyone does not ask the definition for one.
	const key = room === undefined ? undefined : conflationKeyOf(definition, data, conflationKey);
	const message = serverMessage(definition.name, data, { room, conflationKey: key });
	checkMessageSize(message, `"${definition.name}"`, maxMessageSize);
	return message;
}

/** The key a room message gets: the publish's (`null`: none), else the definition's, checked. */
function conflationKeyOf<Data>(
	definition: MessageDefinition<Data>,
	data: Data,
	given: string | number | null | undefined
): string | undefined {
	const key = given === undefined ? definition.conflationKey?.(data) : given;
	return checkedConflationKey(definition.name, key);
}

/**
 * A conflation key as it goes on the wire: a string of 1 to `MAX_CONFLATION_KEY_LENGTH` characters
 * (a finite number becomes its string), or none. Throws a `TypeError` naming the message otherwise.
 */
function checkedConflationKey(name: string, key: unknown): string | undefined {
	if (key === undefined || key === null) return undefined;
	const text = typeof key == 'number' && Number.isFinite(key) ? String(key) : key;
	if (typeof text == 'string' && text.length > 0 && text.length <= MAX_CONFLATION_KEY_LENGTH) {
		return text;
	}
	throw new TypeError(
		`The conflation key of "${name}" must be a finite number or a string of 1 to ${MAX_CONFLATION_KEY_LENGTH} characters, not ${describeKey(key)}`
	);
}

/** A bad key as the refusal shows it: its first 40 characters as text, or its type when it has none. */
function describeKey(key: unknown): string {
	try {
		return String(key).slice(0, 40);
	} catch {
		// An object without a primitive value (no prototype, or a throwing toString).
		return typeof key;
	}
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
