import { ClientMessage } from 'runesocket';
import { z } from 'zod';

/** The server's clock, published every second to everyone. */
export const Tick = ClientMessage.define(
	'demo.tick',
	z.object({ count: z.number().int(), at: z.number() })
);

/** A request the page sends to measure a round trip; the reply echoes `sentAt`. */
export const Ping = ClientMessage.define('demo.ping', z.object({ sentAt: z.number() }));
