import { Child } from '../child.js';
import type { Contender } from './contenders.js';
import type {
	ClientCommand,
	ClientReport,
	ConnectBatch,
	MemorySample,
	ServerCommand,
	ServerReport
} from './messages.js';

/**
 * The sizes of one round: idle connections held for the memory figure, clients timed for the connect
 * rate, and how many connect at once.
 *
 * @example
 * const plan: RoundPlan = { idleConnections: 2000, timedConnections: 1000, concurrency: 50, rooms: 100 };
 */
export interface RoundPlan {
	idleConnections: number;
	timedConnections: number;
	concurrency: number;
	/** Client `i` joins `room-(i % rooms)`. */
	rooms: number;
}

/**
 * One contender's figures from one round.
 *
 * @example
 * const { rssPerConnection } = await measureContender(contender, plan);
 */
export interface RoundResult {
	version: string;
	/** Bytes of RSS per idle connection, after `gc()`, above the server's baseline. */
	rssPerConnection: number;
	/**
	 * The same without V8's young generation: how much of it the connect burst touched depends on
	 * what was allocated meanwhile, garbage included, and its size is capped per process (16 MiB per
	 * semispace by default), so it is not memory the idle connections hold.
	 */
	rssLessYoungPerConnection: number;
	/** Bytes of V8 heap per idle connection, after `gc()`. */
	heapPerConnection: number;
	/** Bytes outside the V8 heap (Buffers, native) per idle connection. */
	externalPerConnection: number;
	/** Connect + auth + join per second over the timed batch. */
	connectsPerSecond: number;
}

/** Clients connected and closed before the baseline, so that code compiled on first use is not counted. */
const WARM_UP_CONNECTIONS = 100;
const CONNECT_TIMEOUT_MS = 180_000;
const SETTLE_TIMEOUT_MS = 20_000;

type ServerLink = Child<ServerCommand, ServerReport>;
type ClientLink = Child<ClientCommand, ClientReport>;

async function measureServer(server: ServerLink): Promise<MemorySample> {
	server.send({ type: 'measure' });
	return server.next('measured', SETTLE_TIMEOUT_MS);
}

/** Waits until the server counts `open` connections (closes reach it a little after the client's). */
async function serverHolds(server: ServerLink, open: number): Promise<MemorySample> {
	const deadline = Date.now() + SETTLE_TIMEOUT_MS;
	for (;;) {
		const sample = await measureServer(server);
		if (sample.open == open) return sample;
		if (Date.now() > deadline) {
			throw new Error(`The server holds ${sample.open} connections, expected ${open}`);
		}
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
}

async function connect(clients: ClientLink, batch: ConnectBatch): Promise<number> {
	clients.send({ type: 'connect', batch });
	return (await clients.next('connected', CONNECT_TIMEOUT_MS)).ms;
}

async function disconnect(clients: ClientLink, server: ServerLink): Promise<MemorySample> {
	clients.send({ type: 'disconnect' });
	await clients.next('disconnected', SETTLE_TIMEOUT_MS);
	return serverHolds(server, 0);
}

/**
 * Runs one round for one contender, in a fresh server process (with `--expose-gc`) and a fresh client
 * process: a warm-up, the memory baseline, `idleConnections` clients connected, authenticated and in
 * a room, the memory again; then all closed, and `timedConnections` clients timed from the first
 * connect to the last join answer.
 *
 * @example
 * const result = await measureContender(connectionContenders[0], { idleConnections: 2000, timedConnections: 1000, concurrency: 50, rooms: 100 });
 */
export async function measureContender(
	contender: Contender,
	plan: RoundPlan
): Promise<RoundResult> {
	const server: ServerLink = new Child(
		new URL('./server-process.ts', import.meta.url),
		[contender.name],
		['--expose-gc']
	);
	const clients: ClientLink = new Child(new URL('./client-process.ts', import.meta.url), []);
	try {
		const [{ port, version }] = await Promise.all([
			server.next('listening', 30_000),
			clients.next('ready', 30_000)
		]);
		const batch = (count: number): ConnectBatch => ({
			protocol: contender.protocol,
			port,
			count,
			concurrency: plan.concurrency,
			rooms: plan.rooms
		});
		await connect(clients, batch(WARM_UP_CONNECTIONS));
		const before = await disconnect(clients, server);
		await connect(clients, batch(plan.idleConnections));
		const after = await serverHolds(server, plan.idleConnections);
		await disconnect(clients, server);
		const per = (value: (sample: MemorySample) => number): number =>
			(value(after) - value(before)) / plan.idleConnections;
		const ms = await connect(clients, batch(plan.timedConnections));
		return {
			version,
			rssPerConnection: per((sample) => sample.rss),
			rssLessYoungPerConnection: per((sample) => sample.rss - sample.youngGeneration),
			heapPerConnection: per((sample) => sample.heapUsed),
			externalPerConnection: per((sample) => sample.external),
			connectsPerSecond: (plan.timedConnections / ms) * 1000
		};
	} finally {
		await clients.stop({ type: 'stop' });
		await server.stop({ type: 'stop' });
	}
}
