// What the orchestrator, the server processes and the load processes say to each other over the
// child-process IPC channel, and the payload every contender publishes.

/**
 * One run of a scenario: what the server publishes and what each client must receive.
 *
 * @example
 * const plan: RunPlan = { rooms: ['room-0'], publishesPerTurn: 1, publishes: 1000, padding: 'xx' };
 */
export interface RunPlan {
	/** Room names; client `i` joins room `i % rooms.length`. */
	rooms: string[];
	/** Publishes per event-loop turn; each goes to the next room, round-robin. */
	publishesPerTurn: number;
	/** Publishes in the run, in total (a multiple of `rooms.length`, so every room gets as many). */
	publishes: number;
	/** Characters of padding that make the published payload about the scenario's size. */
	padding: string;
}

/**
 * The data of each published message; `t` is the publish time in µs of the shared monotonic clock.
 *
 * @example
 * const data: TickData = { seq: 0, t: nowMicros(), pad: plan.padding };
 */
export interface TickData {
	seq: number;
	t: number;
	pad: string;
}

/**
 * Orchestrator → server process.
 *
 * @example
 * server.send({ type: 'publish', plan });
 */
export type ServerCommand =
	{ type: 'publish'; plan: RunPlan } | { type: 'mark' } | { type: 'measure' } | { type: 'exit' };

/**
 * Server process → orchestrator.
 *
 * @example
 * const { cpuMicros } = await server.next('measured', 30_000);
 */
export type ServerReport =
	| { type: 'listening'; port: number; version: string }
	| { type: 'published'; startedAt: number; endedAt: number }
	/** Answers `mark`: CPU is counted from now (the servers that do not publish, in a run on several). */
	| { type: 'marked' }
	| { type: 'measured'; cpuMicros: number }
	| { type: 'failed'; error: string };

/**
 * Orchestrator → load process.
 *
 * @example
 * load.send({ type: 'expect', plan, timeoutMs: 60_000 });
 */
export type LoadCommand =
	/** Client `i` of `clients` connects to `ports[⌊i × ports.length / clients⌋]`: consecutive shares. */
	| { type: 'connect'; ports: number[]; clients: number; rooms: string[] }
	| { type: 'expect'; plan: RunPlan; timeoutMs: number }
	| { type: 'exit' };

/**
 * What the load process counted in one run, over all its clients.
 *
 * @example
 * if (count.lost || count.duplicated) console.log(`LOSS in ${count.clientsWithGaps} clients`);
 */
export interface DeliveryCount {
	expected: number;
	received: number;
	lost: number;
	duplicated: number;
	outOfOrder: number;
	/** Ticks of an earlier run (published before this one was armed) or with a sequence number out of range. */
	stray: number;
	/** Clients that lost or duplicated at least one message. */
	clientsWithGaps: number;
	/** Clients that closed during the run. */
	closed: number;
	/** Messages other than ticks that clients received during the run, by name. */
	otherMessages: Record<string, number>;
	/** Whether the run ended at its timeout, before every client had everything. */
	timedOut: boolean;
	/** The first client with gaps: its index and the sequence numbers it is missing. */
	firstGap?: string;
	lastReceivedAt: number;
	/** CPU the load process used from arming until every client had everything (or the timeout). */
	loadCpuMicros: number;
	p50Ms: number;
	p99Ms: number;
}

/**
 * Load process → orchestrator.
 *
 * @example
 * const { count } = await load.next('counted', 90_000);
 */
export type LoadReport =
	| { type: 'connected'; clients: number }
	| { type: 'armed' }
	| { type: 'counted'; count: DeliveryCount }
	| { type: 'failed'; error: string };

/**
 * Now in µs on the system-wide monotonic clock, comparable between processes of one machine.
 *
 * @example
 * const sentAt = nowMicros(); // in the server; the client subtracts it from its own nowMicros()
 */
export function nowMicros(): number {
	return Number(process.hrtime.bigint() / 1000n);
}
