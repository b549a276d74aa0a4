import { Child } from './child.js';
import type { Contender } from './contenders.js';
import type { LoadCommand, LoadReport, RunPlan, ServerCommand, ServerReport } from './messages.js';
import type { RunResult } from './report.js';
import type { Scenario } from './scenarios.js';

const START_TIMEOUT_MS = 30_000;
const CONNECT_TIMEOUT_MS = 120_000;
const RUN_TIMEOUT_MS = 60_000;

interface Running {
	contender: Contender;
	server: Child<ServerCommand, ServerReport>;
	load: Child<LoadCommand, LoadReport>;
}

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
	plan: RunPlan
): Promise<Running> {
	const server = new Child<ServerCommand, ServerReport>('./server-process.ts', [contender.name]);
	const load = new Child<LoadCommand, LoadReport>('./load-process.ts', [contender.name]);
	const { port } = await server.next('listening', START_TIMEOUT_MS);
	load.send({ type: 'connect', port, clients: scenario.clients, rooms: plan.rooms });
	await load.next('connected', CONNECT_TIMEOUT_MS);
	return { contender, server, load };
}

async function runOnce({ server, load }: Running, plan: RunPlan): Promise<RunResult> {
	load.send({ type: 'expect', plan, timeoutMs: RUN_TIMEOUT_MS });
	await load.next('armed', START_TIMEOUT_MS);
	server.send({ type: 'publish', plan });
	const { startedAt } = await server.next('published', RUN_TIMEOUT_MS);
	const { count } = await load.next('counted', RUN_TIMEOUT_MS + START_TIMEOUT_MS);
	server.send({ type: 'measure' });
	const { cpuMicros } = await server.next('measured', START_TIMEOUT_MS);
	const seconds = (count.lastReceivedAt - startedAt) / 1e6;
	return {
		deliveriesPerSecond: count.received / seconds,
		cpuMicrosPerDelivery: cpuMicros / count.received,
		serverCpuShare: cpuMicros / (count.lastReceivedAt - startedAt),
		loadCpuShare: count.loadCpuMicros / (count.lastReceivedAt - startedAt),
		count
	};
}

/**
 * Runs a scenario with every contender's server and load clients in their own processes, all
 * connected before the first round; the rounds then interleave the contenders (A B C, A B C, …) so
 * a change in the machine's load hits all of them alike.
 *
 * @example
 * const results = await runScenario(scenarios[0], contenders, { rounds: 3, scale: 1 });
 */
export async function runScenario(
	scenario: Scenario,
	contenders: readonly Contender[],
	{ rounds, scale }: { rounds: number; scale: number }
): Promise<Map<string, RunResult[]>> {
	const plan = planOf(scenario, scale);
	const running: Running[] = [];
	const results = new Map<string, RunResult[]>(contenders.map((contender) => [contender.name, []]));
	try {
		for (const contender of contenders)
			running.push(await startContender(contender, scenario, plan));
		for (let round = 0; round < rounds; round++) {
			for (const contender of running) {
				results.get(contender.contender.name)?.push(await runOnce(contender, plan));
			}
		}
	} finally {
		for (const { server, load } of running) {
			await Promise.all([server.stop({ type: 'exit' }), load.stop({ type: 'exit' })]);
		}
	}
	return results;
}
