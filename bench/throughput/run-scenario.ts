import { Child } from '../child.js';
import type { Contender, RedisNeed } from './contenders.js';
import type { LoadCommand, LoadReport, RunPlan, ServerCommand, ServerReport } from './messages.js';
import type { RunResult } from './report.js';
import type { Scenario } from './scenarios.js';

const START_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 120_000;
const RUN_TIMEOUT_MS = 60_000;

type ServerChild = Child<ServerCommand, ServerReport>;

interface Running {
	contender: Contender;
	/** The contender's server processes; the first one publishes. */
	servers: ServerChild[];
	load: Child<LoadCommand, LoadReport>;
}

/**
 * A Redis of the bench whose CPU time can be read (a redis-server, or a cluster's nodes summed).
 *
 * @example
 * const meter: RedisCpuMeter = { cpuMicros: () => redis.cpuMicros() };
 */
export interface RedisCpuMeter {
	cpuMicros(): number;
}

/** Options of `runScenario`. */
export interface RunOptions {
	rounds: number;
	scale: number;
	/** The bench's Redis by what contenders need, when one does (its CPU is reported per delivery). */
	redis?: Partial<Record<RedisNeed, RedisCpuMeter>>;
}

/** Keeps every contender instance's Redis keys and channels apart from the others'. */
let instances = 0;

/** The plan of one run: rooms, publishes and the padding that makes the payload its size. */
function planOf(scenario: Scenario, scale: number): RunPlan {
	const rooms = Array.from({ length: scenario.rooms }, (_, index) => `room-${index}`);
	const perRoom = Math.max(1, Math.round((scenario.publishes * scale) / scenario.rooms));
	// {"seq":1234,"t":1234567890123,"pad":""} is about 40 bytes before the padding.
	return {
		rooms,
		publishesPerTurn: scenario.publishesPerTurn,
		publishes: perRoom * scenario.rooms,
		padding: 'x'.repeat(Math.max(0, scenario.payloadBytes - 40))
	};
}

async function startContender(
	contender: Contender,
	scenario: Scenario,
	plan: RunPlan,
	running: Running[]
): Promise<void> {
	const prefix = `bench:${++instances}:`;
	const servers = Array.from(
		{ length: scenario.processes },
		() =>
			new Child<ServerCommand, ServerReport>(new URL('./server-process.ts', import.meta.url), [
				contender.name,
				prefix
			])
	);
	const load = new Child<LoadCommand, LoadReport>(new URL('./load-process.ts', import.meta.url), [
		contender.name
	]);
	// Registered before anything can fail, so the caller's cleanup stops these processes too.
	running.push({ contender, servers, load });
	const ports = [];
	for (const server of servers) ports.push((await server.next('listening', START_TIMEOUT_MS)).port);
	load.send({ type: 'connect', ports, clients: scenario.clients, rooms: plan.rooms });
	await load.next('connected', CONNECT_TIMEOUT_MS);
}

async function runOnce(
	{ contender, servers, load }: Running,
	plan: RunPlan,
	redis: RunOptions['redis']
): Promise<RunResult> {
	const [publisher, ...others] = servers;
	load.send({ type: 'expect', plan, timeoutMs: RUN_TIMEOUT_MS });
	await load.next('armed', START_TIMEOUT_MS);
	for (const server of others) {
		server.send({ type: 'mark' });
		await server.next('marked', START_TIMEOUT_MS);
	}
	const meter = redis?.[contender.redis];
	const redisCpuAtStart = meter?.cpuMicros();
	publisher.send({ type: 'publish', plan });
	const { startedAt } = await publisher.next('published', RUN_TIMEOUT_MS);
	const { count } = await load.next('counted', RUN_TIMEOUT_MS + START_TIMEOUT_MS);
	let cpuMicros = 0;
	for (const server of servers) {
		server.send({ type: 'measure' });
		cpuMicros += (await server.next('measured', START_TIMEOUT_MS)).cpuMicros;
	}
	const redisCpuMicros =
		redisCpuAtStart === undefined ? undefined : (meter?.cpuMicros() ?? 0) - redisCpuAtStart;
	const elapsedMicros = count.lastReceivedAt - startedAt;
	return {
		deliveriesPerSecond: count.received / (elapsedMicros / 1e6),
		cpuMicrosPerDelivery: cpuMicros / count.received,
		redisCpuMicrosPerDelivery:
			redisCpuMicros === undefined ? undefined : redisCpuMicros / count.received,
		serverCpuShare: cpuMicros / elapsedMicros,
		loadCpuShare: count.loadCpuMicros / elapsedMicros,
		count
	};
}

/**
 * Runs a scenario with every contender's server(s) and load clients in their own processes, all
 * connected before the first round; the rounds then interleave the contenders (A B C, A B C, …) so
 * a change in the machine's load hits all of them alike.
 *
 * @example
 * const results = await runScenario(scenarios[0], contenders, { rounds: 3, scale: 1 });
 */
export async function runScenario(
	scenario: Scenario,
	contenders: readonly Contender[],
	{ rounds, scale, redis }: RunOptions
): Promise<Map<string, RunResult[]>> {
	const plan = planOf(scenario, scale);
	const running: Running[] = [];
	const results = new Map<string, RunResult[]>(contenders.map((contender) => [contender.name, []]));
	try {
		for (const contender of contenders) await startContender(contender, scenario, plan, running);
		for (let round = 0; round < rounds; round++) {
			for (const contender of running) {
				results.get(contender.contender.name)?.push(await runOnce(contender, plan, redis));
			}
		}
	} finally {
		for (const { servers, load } of running) {
			await Promise.all([
				...servers.map((server) => server.stop({ type: 'exit' })),
				load.stop({ type: 'exit' })
			]);
		}
	}
	return results;
}
