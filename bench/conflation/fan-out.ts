import { Child } from '../child.js';
import type { DeliveryCount, LoadCommand, LoadReport, RunPlan } from '../throughput/messages.js';
import { checkOf, paddingFor } from './checks.js';
import type {
	Goal,
	PublishPlan,
	ReaderCommand,
	ReaderReport,
	ReaderResult,
	ServerCommand,
	ServerReport,
	ServerRun,
	ServerSetup
} from './messages.js';

/**
 * The sizes of the fan-out runs: clients reading at full speed, the paced publish rate and how long
 * it lasts, monitors, bytes of each check's data, and the share of the fast readers' byte rate the
 * slow reader reads.
 *
 * @example
 * const plan: FanOutPlan = { clients: 500, perSecond: 250, seconds: 16, keys: 200, dataBytes: 250, slowShare: 0.01 };
 */
export interface FanOutPlan {
	clients: number;
	perSecond: number;
	seconds: number;
	keys: number;
	dataBytes: number;
	slowShare: number;
}

/**
 * One run of a round: whether the checks are keyed, and the slow reader beside the fast ones, if
 * any: whether it reports its reads (as runesocket's client does) and whether its socket is filled
 * before the run (the kernel's buffers full, as after a while of reading slowly).
 */
export interface FanOutCase {
	name: string;
	keyed: boolean;
	slow?: { reports: boolean; fill: boolean };
}

/**
 * The runs of a round: the fast readers alone; beside them the slow reader as runesocket's client
 * (reporting its reads), keyed; a slow reader that does not report, behind a full socket, keyed;
 * and the same unkeyed (as before conflation).
 */
export const FAN_OUT_CASES: readonly FanOutCase[] = [
	{ name: 'no slow reader', keyed: true },
	{ name: 'slow reader, keyed', keyed: true, slow: { reports: true, fill: false } },
	{
		name: 'slow reader, keyed, no read reports, full socket',
		keyed: true,
		slow: { reports: false, fill: true }
	},
	{
		name: 'slow reader, unkeyed, no read reports, full socket',
		keyed: false,
		slow: { reports: false, fill: true }
	}
];

/**
 * One run's figures: the fast readers' deliveries (latency percentiles included), the server's CPU
 * time per delivery to them, what the server saw, the slow reader's fill before the run (bytes
 * written, and its backlog once its socket refused more), and how it ended once it read freely
 * after the load.
 */
export interface FanOutResult {
	count: DeliveryCount;
	cpuPerDelivery: number;
	server: ServerRun;
	/** The publishes took this long (ms): the run's length, at its pace. */
	publishMs: number;
	prefilled?: { bytes: number; backlog: number };
	slow?: ReaderResult;
}

const START_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 120_000;
const ROOM = 'room-0';
/** About the bytes of a room delivery's frame around its data: name, room, offset, epoch, key. */
const FRAME_AROUND_DATA = 50;

/** A server, the fast readers and the slow reader, each in a process of its own. */
interface Processes {
	server: Child<ServerCommand, ServerReport>;
	load: Child<LoadCommand, LoadReport>;
	reader: Child<ReaderCommand, ReaderReport>;
}

async function start(plan: FanOutPlan): Promise<Processes & { port: number }> {
	const server = new Child<ServerCommand, ServerReport>(
		new URL('./server-process.ts', import.meta.url),
		[JSON.stringify({ engine: 'memory' } satisfies ServerSetup)]
	);
	// The throughput suite's load clients: runesocket's, counting every tick per client.
	const load = new Child<LoadCommand, LoadReport>(
		new URL('../throughput/load-process.ts', import.meta.url),
		['runesocket memory']
	);
	const reader = new Child<ReaderCommand, ReaderReport>(
		new URL('./reader-process.ts', import.meta.url),
		[]
	);
	const processes = { server, load, reader };
	try {
		const [{ port }] = await Promise.all([
			server.next('listening', START_TIMEOUT_MS),
			reader.next('ready', START_TIMEOUT_MS)
		]);
		load.send({ type: 'connect', ports: [port], clients: plan.clients, rooms: [ROOM] });
		await load.next('connected', CONNECT_TIMEOUT_MS);
		return { ...processes, port };
	} catch (error) {
		await stop(processes);
		throw error;
	}
}

async function stop({ server, load, reader }: Processes): Promise<void> {
	await Promise.all([
		reader.stop({ type: 'exit' }),
		load.stop({ type: 'exit' }),
		server.stop({ type: 'exit' })
	]);
}

/** The plan's publishes, keyed or not. */
export function publishPlanOf(plan: FanOutPlan, keyed: boolean): PublishPlan {
	return {
		room: ROOM,
		messages: plan.perSecond * plan.seconds,
		perSecond: plan.perSecond,
		keys: plan.keys,
		keyed,
		padding: paddingFor(plan.dataBytes)
	};
}

/** Bytes of one check's frame, about. */
export function frameBytesOf(plan: FanOutPlan): number {
	const data = checkOf(publishPlanOf(plan, true), 1234);
	return Buffer.byteLength(JSON.stringify(data)) + FRAME_AROUND_DATA;
}

async function runOnce(
	{ server, load, reader, port }: Processes & { port: number },
	plan: FanOutPlan,
	{ slow, keyed }: FanOutCase
): Promise<FanOutResult> {
	const publishPlan = publishPlanOf(plan, keyed);
	const timeoutMs = plan.seconds * 1000 + 20_000;
	// Unkeyed, every message is one the slow reader must get.
	const goal: Goal = {
		messages: publishPlan.messages,
		keys: plan.keys,
		unkeyedEvery: keyed ? undefined : 1
	};
	let prefilled: FanOutResult['prefilled'];
	if (slow) {
		reader.send({ type: 'open', port, room: ROOM, goal, reports: slow.reports });
		await reader.next('opened', START_TIMEOUT_MS);
	}
	if (slow?.fill) {
		server.send({ type: 'prefill' });
		const { bytes, backlog } = await server.next('prefilled', START_TIMEOUT_MS);
		prefilled = { bytes, backlog };
	}
	const expected: RunPlan = {
		rooms: [ROOM],
		publishesPerTurn: 1,
		publishes: publishPlan.messages,
		padding: ''
	};
	load.send({ type: 'expect', plan: expected, timeoutMs });
	await load.next('armed', START_TIMEOUT_MS);
	if (slow) {
		const bytesPerSecond = frameBytesOf(plan) * plan.perSecond * plan.slowShare;
		reader.send({ type: 'throttle', bytesPerSecond });
	}
	server.send({ type: 'publish', plan: publishPlan, measured: true });
	const [{ ms: publishMs }, { count }] = await Promise.all([
		server.next('published', timeoutMs),
		load.next('counted', timeoutMs + START_TIMEOUT_MS)
	]);
	server.send({ type: 'measure' });
	const { run } = await server.next('measured', START_TIMEOUT_MS);
	let slowResult: ReaderResult | undefined;
	if (slow) {
		reader.send({ type: 'catch-up', timeoutMs: 60_000 });
		slowResult = (await reader.next('caught-up', 90_000)).result;
	}
	return {
		count,
		cpuPerDelivery: run.cpuMicros / count.received,
		server: run,
		publishMs,
		prefilled,
		slow: slowResult
	};
}

/** The warm-up run's length: the server's and the clients' code is compiled before any run counts. */
export const WARM_UP_SECONDS = 3;

/**
 * Runs the fan-out cases in interleaved rounds, after a warm-up run, on one server process
 * (MemoryEngine) with its fast readers connected once and a fresh slow reader per run; each round
 * starts one case later (a b c d, b c d a, …), so none is always first. A run that fails is reported
 * through `failed` and left out, and the processes are started again.
 *
 * @example
 * const results = await runFanOut(plan, 3, (what, error) => console.log(what, error));
 */
export async function runFanOut(
	plan: FanOutPlan,
	rounds: number,
	failed: (what: string, error: unknown) => void
): Promise<Map<string, FanOutResult[]>> {
	const results = new Map<string, FanOutResult[]>(FAN_OUT_CASES.map((c) => [c.name, []]));
	let processes = await start(plan);
	try {
		await runOnce(processes, { ...plan, seconds: WARM_UP_SECONDS }, FAN_OUT_CASES[0]);
		for (let round = 0; round < rounds; round++) {
			for (let index = 0; index < FAN_OUT_CASES.length; index++) {
				const fanOutCase = FAN_OUT_CASES[(round + index) % FAN_OUT_CASES.length];
				try {
					results.get(fanOutCase.name)?.push(await runOnce(processes, plan, fanOutCase));
				} catch (error) {
					failed(`${fanOutCase.name}, round ${round + 1}`, error);
					await stop(processes);
					processes = await start(plan);
				}
			}
		}
	} finally {
		await stop(processes);
	}
	return results;
}
