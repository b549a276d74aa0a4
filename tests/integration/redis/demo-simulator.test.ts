import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Signal } from '../../kit/chaos.js';
import { watchDemoAccount } from '../../kit/demo-account.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { within } from '../../kit/wait.js';

// With REDIS_URL the demo's simulator runs in a process of its own (src/demo/simulator-process.ts),
// one per server process, and a Redis lease lets exactly one of them run: these tests start two
// such processes on a private redis-server and watch who publishes.

const ENTRY = fileURLToPath(new URL('../../../src/demo/simulator-process.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A simulator process and what it printed. */
interface Simulator {
	readonly child: ChildProcess;
	/** How many times it printed `simulator: running`. */
	runs: number;
	log: string;
}

const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];

afterEach(async () => {
	for (const child of children.splice(0)) {
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	}
	await Promise.all(closers.splice(0).map((close) => close()));
});

/** Starts a simulator process on `redis` with a short lease and a fast monitor flap. */
function startSimulator(redis: RedisServer, signal: Signal): Simulator {
	const child = spawn(process.execPath, ['--import', 'tsx', ENTRY], {
		cwd: ROOT,
		env: {
			...process.env,
			REDIS_URL: redis.url,
			DEMO_SIMULATOR_LEASE_MS: '600',
			DEMO_MONITOR_INTERVAL_MS: '50',
			DEMO_INCIDENT_INTERVAL_MS: '0'
		},
		stdio: ['ignore', 'pipe', 'pipe']
	});
	children.push(child);
	const simulator: Simulator = { child, runs: 0, log: '' };
	const read = (chunk: Buffer) => {
		const text = chunk.toString();
		simulator.log += text;
		simulator.runs += text.match(/simulator: running/g)?.length ?? 0;
		signal.changed();
	};
	child.stdout?.on('data', read);
	child.stderr?.on('data', read);
	return simulator;
}

async function killed(child: ChildProcess): Promise<void> {
	const exited = new Promise((resolve) => child.once('exit', resolve));
	child.kill('SIGKILL');
	await within(exited, 'the simulator to exit');
}

describe('the demo simulator on Redis', { timeout: 60_000 }, () => {
	it('runs in one of two processes, publishes with offsets, and moves when its holder dies', async () => {
		const redis = await startRedisServer();
		const signal = new Signal();
		const changes = await watchDemoAccount(redis, signal, closers);
		const simulators = [startSimulator(redis, signal), startSimulator(redis, signal)];
		const running = () => simulators.filter((simulator) => simulator.runs > 0);
		await signal.until(() => running().length > 0, 'a simulator to run');
		await signal.until(() => changes.length >= 10, '10 monitor changes');
		// The other one stood by all along.
		expect(running().length, simulators.map((simulator) => simulator.log).join('\n')).toBe(1);
		const offsets = changes.map((change) => change.offset);
		expect(offsets.slice(0, 10)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

		const [holder] = running();
		const [standBy] = simulators.filter((simulator) => simulator !== holder);
		await killed(holder!.child);
		const before = changes.length;
		await signal.until(() => standBy!.runs > 0, 'the other simulator to take over');
		await signal.until(() => changes.length >= before + 10, '10 more monitor changes');
		const last = changes.slice(-10).map((change) => (change as { offset: number }).offset);
		expect(last).toEqual(last.map((_, index) => last[0]! + index));
	});

	it('stands by while another process runs it, and takes over once that one stopped', async () => {
		const redis = await startRedisServer();
		const signal = new Signal();
		const first = startSimulator(redis, signal);
		await signal.until(() => first.runs > 0, 'the first simulator to run');
		const second = startSimulator(redis, signal);
		await signal.until(() => second.log.includes('standing by'), 'the second to stand by');
		expect(second.runs).toBe(0);
		const exited = new Promise((resolve) => first.child.once('exit', resolve));
		first.child.kill('SIGTERM');
		await within(exited, 'the first simulator to exit');
		await signal.until(() => second.runs > 0, 'the second simulator to take over');
	});
});
