// What the orchestrator (run.ts), the server processes and the client processes say to each other
// over the child-process IPC channel, and the one clock they share.
import type { LoopLag } from './loop-lag.js';

/**
 * The three populations of clients the storm is run with: runesocket's `SocketClient` (full jitter),
 * the no-jitter exponential baseline on plain `ws`, and Socket.IO's client for reference.
 *
 * @example
 * const kind: ClientKind = 'baseline';
 */
export type ClientKind = 'runesocket' | 'baseline' | 'socket.io';

/**
 * The server a kind of client talks to: runesocket's serves both runesocket and the baseline.
 *
 * @example
 * const kind: ServerKind = serverFor('baseline'); // 'runesocket'
 */
export type ServerKind = 'runesocket' | 'socket.io';

/**
 * The server a population of clients connects to.
 *
 * @example
 * serverFor('socket.io'); // 'socket.io'
 */
export function serverFor(kind: ClientKind): ServerKind {
	return kind == 'socket.io' ? 'socket.io' : 'runesocket';
}

/**
 * Orchestrator → server process: listen (0 for any free port), or report the upgrade counts.
 *
 * @example
 * server.send({ type: 'listen', port: 41234 });
 */
export type ServerCommand = { type: 'listen'; port: number } | { type: 'count' };

/**
 * Server process → orchestrator. `listenedAt` is on the shared clock (`nowMs`); `upgrades[i]` is how
 * many upgrade requests arrived in the i-th 100 ms after it, and `lag` how late its loop ran since.
 *
 * @example
 * const { port, listenedAt } = await server.next('listening', 10_000);
 */
export type ServerReport =
	| { type: 'loaded' }
	| { type: 'listening'; port: number; listenedAt: number }
	| { type: 'counted'; upgrades: number[]; lag: LoopLag };

/**
 * Orchestrator → client process: stop every client and exit.
 *
 * @example
 * clients.send({ type: 'exit' });
 */
export type ClientCommand = { type: 'exit' };

/**
 * Client process → orchestrator. `ready` once every client is connected and in its room; `back`
 * once every client that lost its connection is connected and in its room again, with every
 * connection attempt since `ready` (`attemptTimes`), when each was due by its backoff delay
 * (`scheduledTimes`, empty for a client that does not tell) and the moment each client was back
 * (`backTimes`), all on the shared clock, and how late its loop ran since `ready`.
 *
 * @example
 * const { backTimes } = await clients.next('back', 40_000);
 */
export type ClientReport =
	| { type: 'ready' }
	| {
			type: 'back';
			attemptTimes: number[];
			scheduledTimes: number[];
			backTimes: number[];
			rejoinedTwice: number;
			lag: LoopLag;
	  };

/**
 * Milliseconds on the machine's monotonic clock, which every process on it shares: a time one
 * process records can be compared with another's.
 *
 * @example
 * const restartedAt = nowMs();
 */
export function nowMs(): number {
	return Number(process.hrtime.bigint()) / 1e6;
}

/** How long a bucket of the attempt histogram is, in ms. */
export const BUCKET_MS = 100;
