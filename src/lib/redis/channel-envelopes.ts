import { isRecord } from '../protocol/envelope.js';
import { safeJsonParse } from '../protocol/safe-json.js';
import type { PresenceChange } from '../engine/engine.js';

/**
 * One message as it travels on a room's channel: `{"x":<except or null>,"m":<message>}`. A channel
 * message is a JSON array of them (every message one process published to the room in one turn).
 * The message's JSON is written once, by the publisher (with offset and epoch spliced in by the
 * publish script), and each channel message is parsed once by each subscribed process.
 */
export interface Envelope {
	readonly message: unknown;
	readonly except: string | undefined;
}

/**
 * A change of the room's presence as it travels on the room's channel: `{"p":{"set":…,"removed":…}}`,
 * written by the presence scripts in the same channel messages as published messages, so every
 * process subscribed to the room hears both in the order Redis made them.
 */
export interface PresenceEnvelope {
	readonly presence: PresenceChange;
}

/** The envelope's text up to where the message starts. */
export function envelopeHead(except: string | undefined): string {
	return `{"x":${except === undefined ? 'null' : JSON.stringify(except)},"m":`;
}

/** The whole envelope of a message published as-is (non-object messages, the room '*'). */
export function envelope(message: unknown, except: string | undefined): string {
	return `${envelopeHead(except)}${JSON.stringify(message) ?? 'null'}}`;
}

/**
 * The JSON of an object message without its closing brace, ready for the publish script to append
 * `"offset":N,"epoch":"E"}` (a comma added when it has fields). Its own `offset`/`epoch` fields are
 * left out: the engine's replace them. `undefined` when the message does not serialize to a JSON
 * object (a `toJSON` returning something else): it is then published as-is.
 */
export function messageHead(message: Record<string, unknown>): string | undefined {
	let fields = message;
	if (Object.hasOwn(message, 'offset') || Object.hasOwn(message, 'epoch')) {
		const { offset: _offset, epoch: _epoch, ...rest } = message;
		fields = rest;
	}
	const json = JSON.stringify(fields);
	if (typeof json != 'string' || !json.startsWith('{')) return undefined;
	return json == '{}' ? '{' : `${json.slice(0, -1)},`;
}

/** The channel message that carries `envelopes` (each the text of one envelope). */
export function envelopeBatch(envelopes: readonly string[]): string {
	return `[${envelopes.join(',')}]`;
}

/**
 * Reads the envelopes of a channel message (messages, and presence changes); throws a
 * `SyntaxError` or `TypeError` when it is not an array of them. Polluting keys (`__proto__`, and
 * `constructor` with a `prototype`) are dropped, as everywhere in runesocket.
 */
export function parseEnvelopes(text: string): (Envelope | PresenceEnvelope)[] {
	const parsed = safeJsonParse(text);
	if (!Array.isArray(parsed)) throw new TypeError('Not a batch of runesocket envelopes');
	return parsed.map((value: unknown) => {
		if (isPresenceEnvelope(value)) return { presence: value.p };
		if (!isEnvelope(value)) throw new TypeError('Not a batch of runesocket envelopes');
		return { message: value.m, except: typeof value.x == 'string' ? value.x : undefined };
	});
}

function isEnvelope(value: unknown): value is { x?: unknown; m: unknown } {
	return typeof value == 'object' && value !== null && 'm' in value;
}

function isPresenceEnvelope(value: unknown): value is { p: PresenceChange } {
	if (!isRecord(value) || !isRecord(value.p)) return false;
	const { set, removed } = value.p;
	return (
		isRecord(set) &&
		Array.isArray(removed) &&
		removed.every((id) => typeof id == 'string') &&
		Object.values(set).every((entry) => isRecord(entry) && typeof entry.connections == 'number')
	);
}
