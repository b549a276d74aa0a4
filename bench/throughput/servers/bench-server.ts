import type { TickData } from '../messages.js';

/**
 * A contender's server, as the server process drives it: it listens on 127.0.0.1, puts each client
 * in the room its URL names (or the room it joins), and publishes.
 *
 * @example
 * const server = await startRawWs();
 * server.publish('room-0', { seq: 0, t: nowMicros(), pad: '' });
 */
export interface BenchServer {
	port: number;
	/** The contender's version, for the report. */
	version: string;
	/** Publishes one message to a room; a promise when the contender's publish is asynchronous. */
	publish(room: string, data: TickData): void | Promise<unknown>;
	close(): Promise<void>;
}
