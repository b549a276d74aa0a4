// What the orchestrator, the server process and the client process of the requests suite say to
// each other over the child-process IPC channel.

/**
 * A server under test: raw `ws` echoing each JSON frame, Socket.IO acknowledging an event, or
 * runesocket answering a request on an engine.
 *
 * @example
 * const kind: ServerKind = 'runesocket redis';
 */
export type ServerKind = 'ws' | 'socket.io' | 'runesocket memory' | 'runesocket redis';

/**
 * How a client's requests go: a JSON frame answered by the ws echo, a Socket.IO emit with an
 * acknowledgement, a runesocket request without a key, with a fresh key each, or repeating keys
 * answered before the timed batch (the answer comes from the key store).
 *
 * @example
 * const mode: RequestMode = 'fresh keys';
 */
export type RequestMode = 'raw-ws' | 'socket.io' | 'no key' | 'fresh keys' | 'repeat';

/**
 * One batch of requests: `perClient` from each open client, `inFlight` at once per client; keys
 * (of `fresh keys` and `repeat`) start with `keyPrefix`.
 *
 * @example
 * const batch: RequestBatch = { perClient: 400, inFlight: 4, keyPrefix: 'r1.w' };
 */
export interface RequestBatch {
	perClient: number;
	inFlight: number;
	keyPrefix: string;
}

/**
 * Commands to a server process: `mark` starts counting CPU time and handler runs, `measure` reports
 * them.
 *
 * @example
 * server.send({ type: 'mark' });
 */
export type ServerCommand = { type: 'mark' } | { type: 'measure' } | { type: 'stop' };

/**
 * Reports of a server process. `handled` counts the handler runs since the mark.
 *
 * @example
 * const { cpuMicros, handled } = await server.next('measured', 10_000);
 */
export type ServerReport =
	| { type: 'listening'; port: number; version: string }
	| { type: 'marked' }
	| { type: 'measured'; cpuMicros: number; handled: number }
	| { type: 'failed'; error: string };

/**
 * Commands to the client process.
 *
 * @example
 * clients.send({ type: 'run', batch: { perClient: 400, inFlight: 4, keyPrefix: 'r1.t' } });
 */
export type ClientCommand =
	| { type: 'open'; mode: RequestMode; port: number; clients: number }
	| { type: 'run'; batch: RequestBatch }
	| { type: 'stop' };

/**
 * Reports of the client process. `ms` runs from the first request sent to the last answer.
 *
 * @example
 * const { ms } = await clients.next('done', 120_000);
 */
export type ClientReport =
	| { type: 'ready' }
	| { type: 'opened' }
	| { type: 'done'; ms: number }
	| { type: 'failed'; error: string };
