import { envelopeDialect, type InboundMessage } from '../../src/lib/protocol/envelope.js';

/** A runesocket envelope as a test's peer receives it: what the client decodes. */
export type Envelope = InboundMessage;

/**
 * A text frame as runesocket's client decodes it (room deliveries' array form included), or
 * undefined for a frame that is no envelope (e.g. a "3" heartbeat answer, or not JSON).
 */
export function parseEnvelope(frame: string): Envelope | undefined {
	try {
		const parsed = envelopeDialect.decode(frame);
		return isEnvelope(parsed) ? parsed : undefined;
	} catch {
		return undefined;
	}
}

function isEnvelope(value: unknown): value is Envelope {
	return (
		typeof value == 'object' && value !== null && typeof Reflect.get(value, 'name') == 'string'
	);
}
