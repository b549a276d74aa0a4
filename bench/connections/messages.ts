// What the orchestrator, the server process and the client process say to each other over the
// child-process IPC channel.

/**
 * How a client authenticates and joins its room on a contender.
 *
 * @example
 * const protocol: ClientProtocol = 'runesocket'; // auth frame, then room.join, on /ws
 */
export type ClientProtocol = 'raw-ws' | 'socket.io' | 'runesocket';

/**
 * The server's memory, measured after `global.gc()`, and its open connections.
 *
 * @example
 * const sample: MemorySample = { rss: 60e6, youngGeneration: 16e6, heapUsed: 12e6, external: 2e6, open: 2000 };
 */
export interface MemorySample {
	rss: number;
	/** Physical bytes of V8's young generation (new space and new large objects), part of `rss`. */
	youngGeneration: number;
	heapUsed: number;
	external: number;
	/** Connections the server counts as open. */
	open: number;
}

/**
 * Commands to a server process.
 *
 * @example
 * server.send({ type: 'measure' });
 */
export type ServerCommand =
	{ type: 'measure' } | { type: 'snapshot'; file: string } | { type: 'stop' };

/**
 * Reports of a server process.
 *
 * @example
 * const { port } = await server.next('listening', 30_000);
 */
export type ServerReport =
	| { type: 'listening'; port: number; version: string }
	| ({ type: 'measured' } & MemorySample)
	| { type: 'snapshotted' }
	| { type: 'failed'; error: string };

/**
 * One batch of clients to open: `count` clients, at most `concurrency` connecting at once; client `i`
 * has the token `token-i` and joins `room-(i % rooms)`.
 *
 * @example
 * const batch: ConnectBatch = { protocol: 'raw-ws', port, count: 2000, concurrency: 50, rooms: 100 };
 */
export interface ConnectBatch {
	protocol: ClientProtocol;
	port: number;
	count: number;
	concurrency: number;
	rooms: number;
}

/**
 * Commands to the client process.
 *
 * @example
 * clients.send({ type: 'disconnect' });
 */
export type ClientCommand =
	{ type: 'connect'; batch: ConnectBatch } | { type: 'disconnect' } | { type: 'stop' };

/**
 * Reports of the client process. `ms` runs from the first connect to the last join answer.
 *
 * @example
 * const { ms } = await clients.next('connected', 120_000);
 */
export type ClientReport =
	| { type: 'ready' }
	| { type: 'connected'; ms: number }
	| { type: 'disconnected' }
	| { type: 'failed'; error: string };
