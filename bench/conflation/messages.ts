// What the orchestrator, the server process and the reader process of the conflation suite say to
// each other over the child-process IPC channel, and the data every published message carries.
import type { StreamPosition } from '../../src/lib/protocol/envelope.js';
import type { TickData } from '../throughput/messages.js';

/**
 * The name every published message has: `tick`, so the throughput suite's load clients count the
 * fast readers' deliveries as they count theirs.
 */
export const TICK = 'tick';

/** The server watches the connection whose upgrade URL has this query parameter: the slow reader. */
export const WATCHED_PARAMETER = 'watched';

/**
 * A monitor's check, as published: the throughput suite's tick (`seq`, `t` in µs of the shared
 * monotonic clock, padding) and the monitor it is about. A keyed publish has `key` as its
 * conflation key; message `seq` is about monitor `k<seq mod keys>`.
 *
 * @example
 * const data: CheckData = { seq: 7, t: nowMicros(), key: 'k7', status: 'up', pad: 'xx' };
 */
export interface CheckData extends TickData {
	key: string;
	status: 'up' | 'down';
}

/**
 * How a server process is set up: its engine, the history it keeps per room, and its route's
 * `maxBufferedBytes` (default the route's, 1 MiB).
 *
 * @example
 * const setup: ServerSetup = { engine: 'redis', historySize: 25_000 };
 */
export interface ServerSetup {
	engine: 'memory' | 'redis';
	/** Messages of history per room (kept 10 minutes). Default the engine's (100). */
	historySize?: number;
	maxBufferedBytes?: number;
}

/**
 * A paced run of publishes to one room: `messages` of them at `perSecond`, each about monitor
 * `k<seq mod keys>`, keyed (its monitor is its conflation key) or not (`conflationKey: null`, the
 * path every message took before conflation). With `unkeyedEvery`, every such-th message is
 * published unkeyed whatever `keyed` says (`isUnkeyed`).
 *
 * @example
 * const plan: PublishPlan = { room: 'room-0', messages: 4_500, perSecond: 300, keys: 200, keyed: true, padding: 'x'.repeat(150) };
 */
export interface PublishPlan {
	room: string;
	messages: number;
	/** Publishes per second; 0 publishes as fast as the engine takes them (200 a turn). */
	perSecond: number;
	keys: number;
	keyed: boolean;
	unkeyedEvery?: number;
	padding: string;
}

/**
 * Which messages of a plan a reader must end with: the newest of every monitor, and every unkeyed
 * one (`unkeyedEvery`, as in the plan).
 *
 * @example
 * const goal: Goal = { messages: 20_200, keys: 200, unkeyedEvery: 101 };
 */
export interface Goal {
	messages: number;
	keys: number;
	unkeyedEvery?: number;
}

/**
 * The watched connection's outbound backlog (`connection.bufferedBytes`) at `ms` after the run's
 * first publish.
 */
export interface BacklogSample {
	ms: number;
	bytes: number;
}

/**
 * What the server process saw of one run: its CPU time, and of the watched connection (the slow
 * reader, when there is one) its backlog over time, when it was closed and with which code, and
 * the messages conflated and slow consumers closed on the route meanwhile.
 */
export interface ServerRun {
	cpuMicros: number;
	backlog: BacklogSample[];
	closedAtMs?: number;
	closeCode?: number;
	conflated: number;
	slowConsumerCloses: number;
}

/**
 * Orchestrator → server process.
 *
 * @example
 * server.send({ type: 'publish', plan });
 */
export type ServerCommand =
	/** Writes large non-room messages to the watched connection until its socket refuses more. */
	| { type: 'prefill' }
	/** Publishes a plan; with `measured`, CPU and the watched connection are counted from its start. */
	| { type: 'publish'; plan: PublishPlan; measured: boolean }
	/** CPU is counted from now. */
	| { type: 'mark' }
	| { type: 'measure' }
	| { type: 'exit' };

/**
 * Server process → orchestrator.
 *
 * @example
 * const { run } = await server.next('measured', 30_000);
 */
export type ServerReport =
	| { type: 'listening'; port: number; version: string }
	/** `bytes` written to fill it; `backlog`: its backlog once its socket refused more. */
	| { type: 'prefilled'; bytes: number; backlog: number }
	| { type: 'published'; ms: number }
	| { type: 'marked' }
	| { type: 'measured'; run: ServerRun }
	| { type: 'failed'; error: string };

/**
 * Orchestrator → reader process. `open` connects the watched reader, which must end with `goal`
 * (paused once joined; reporting its reads as runesocket's client does, or silent); `throttle` lets it read `bytesPerSecond`; `catch-up` lets it read freely
 * until it holds its goal (or is closed). `seed` connects, joins and leaves: where the join put it is the answer;
 * `rejoin` connects (reporting its reads) and joins at `since`, and reads until it holds the goal.
 *
 * @example
 * reader.send({ type: 'catch-up', timeoutMs: 30_000 });
 */
export type ReaderCommand =
	| { type: 'open'; port: number; room: string; goal: Goal; reports: boolean }
	| { type: 'throttle'; bytesPerSecond: number }
	| { type: 'catch-up'; timeoutMs: number }
	| { type: 'seed'; port: number; room: string }
	| {
			type: 'rejoin';
			port: number;
			room: string;
			since: StreamPosition;
			goal: Goal;
			timeoutMs: number;
	  }
	| { type: 'exit' };

/**
 * How a reader ended a catch-up or a rejoin: whether it holds the goal, how long that took (from
 * `catch-up` or from sending the join), the bytes it read off its TCP socket and the room's
 * messages it got in that time, whether their offsets only ever went up, and the close code if the
 * server closed it. A rejoin also says when the join was answered (the history read).
 */
export interface ReaderResult {
	converged: boolean;
	ms: number;
	answeredMs?: number;
	bytes: number;
	messages: number;
	inOrder: boolean;
	recovered?: boolean;
	closeCode?: number;
}

/**
 * Reader process → orchestrator.
 *
 * @example
 * const { result } = await reader.next('caught-up', 60_000);
 */
export type ReaderReport =
	| { type: 'ready' }
	| { type: 'opened' }
	| { type: 'seeded'; position: StreamPosition }
	| { type: 'caught-up'; result: ReaderResult }
	| { type: 'failed'; error: string };
