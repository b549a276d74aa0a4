// A child process that holds one contender's load clients and counts every delivery per client:
// `fork('load-process.ts', [contenderName])`, then LoadCommand / LoadReport over IPC.
import { contenderNamed } from './contenders.js';
import { DeliveryCounter } from './delivery-counter.js';
import { connectClient } from './load-clients.js';
import {
	nowMicros,
	type DeliveryCount,
	type LoadCommand,
	type LoadReport,
	type RunPlan
} from './messages.js';
import { percentile } from './stats.js';

const CONNECT_CONCURRENCY = 50;

const { protocol } = contenderNamed(process.argv[2] ?? '');
/** Per client: the counter of the current run (none between runs). */
const counters: (DeliveryCounter | undefined)[] = [];
let closedClients = 0;
/** Non-tick messages received during the current run, by name. */
let otherMessages: Record<string, number> = {};

function report(message: LoadReport): void {
	process.send?.(message);
}

async function connectAll(ports: number[], clients: number, rooms: string[]): Promise<void> {
	let next = 0;
	const connectNext = async (): Promise<void> => {
		while (next < clients) {
			const index = next++;
			counters.push(undefined);
			const port = ports[Math.floor((index * ports.length) / clients)];
			await connectClient(protocol, port, rooms[index % rooms.length], {
				tick: (data) => counters[index]?.receive(data),
				other: (name) => (otherMessages[name] = (otherMessages[name] ?? 0) + 1),
				closed: () => closedClients++
			});
		}
	};
	await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, connectNext));
}

function firstGap(runCounters: DeliveryCounter[]): string | undefined {
	const index = runCounters.findIndex((counter) => counter.lost > 0);
	if (index < 0) return undefined;
	return `client ${index} is missing seq ${runCounters[index].missingRanges(5)} of 0-${runCounters[index].expected - 1}`;
}

/** Counts one run until every client has all it should, or the timeout passes. */
async function countRun(plan: RunPlan, timeoutMs: number): Promise<DeliveryCount> {
	const perRoom = plan.publishes / plan.rooms.length;
	const latencies: number[] = [];
	const closedBefore = closedClients;
	otherMessages = {};
	const armedAt = nowMicros();
	const runCounters = counters.map(() => new DeliveryCounter(perRoom, latencies, armedAt));
	runCounters.forEach((counter, index) => (counters[index] = counter));
	report({ type: 'armed' });
	const cpuAtStart = process.cpuUsage();
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline && !runCounters.every((counter) => counter.complete)) {
		await new Promise((resolve) => setTimeout(resolve, 20));
	}
	const cpu = process.cpuUsage(cpuAtStart);
	const timedOut = !runCounters.every((counter) => counter.complete);
	// Duplicates can only show after the last expected message: give them a moment to arrive.
	await new Promise((resolve) => setTimeout(resolve, 200));
	counters.fill(undefined);
	const sorted = Float64Array.from(latencies).sort();
	const sum = (pick: (counter: DeliveryCounter) => number): number =>
		runCounters.reduce((total, counter) => total + pick(counter), 0);
	return {
		expected: sum((counter) => counter.expected),
		received: sum((counter) => counter.received),
		lost: sum((counter) => counter.lost),
		duplicated: sum((counter) => counter.duplicated),
		outOfOrder: sum((counter) => counter.outOfOrder),
		stray: sum((counter) => counter.stray),
		clientsWithGaps: runCounters.filter((counter) => counter.lost > 0 || counter.duplicated > 0)
			.length,
		closed: closedClients - closedBefore,
		otherMessages,
		timedOut,
		firstGap: firstGap(runCounters),
		lastReceivedAt: Math.max(...runCounters.map((counter) => counter.lastReceivedAt)),
		loadCpuMicros: cpu.user + cpu.system,
		p50Ms: percentile(sorted, 0.5) / 1000,
		p99Ms: percentile(sorted, 0.99) / 1000
	};
}

process.on('message', (command: LoadCommand) => {
	if (command.type == 'connect') {
		connectAll(command.ports, command.clients, command.rooms).then(
			() => report({ type: 'connected', clients: counters.length }),
			(error: unknown) => report({ type: 'failed', error: String(error) })
		);
	} else if (command.type == 'expect') {
		countRun(command.plan, command.timeoutMs).then(
			(count) => report({ type: 'counted', count }),
			(error: unknown) => report({ type: 'failed', error: String(error) })
		);
	} else {
		process.exit(0);
	}
});
// The orchestrator is gone (it crashed or was killed): nothing will tell this process to exit.
process.on('disconnect', () => process.exit(1));
