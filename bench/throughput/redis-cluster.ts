// The bench's own Redis Cluster: three masters without replicas on free ports, no persistence,
// created with `redis-cli --cluster create`, and stopped when the bench ends however it ends
// (normal end, a thrown error, ^C or SIGTERM).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, processCpuMicros, waitUntilAnswering } from './redis-server.js';

const run = promisify(execFile);

const MASTERS = 3;
const READY_TIMEOUT_MS = 20_000;
const CLI_TIMEOUT_MS = 20_000;
/** A node's cluster bus listens on its port + 10000. */
const BUS_PORT_OFFSET = 10_000;
/** The machine's own redis-server: never one of ours. */
const MACHINE_REDIS_PORT = 6379;

/** Whether `port` can be listened on right now. */
function isFree(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const probe = createServer();
		probe.once('error', () => resolve(false));
		probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
	});
}

/** A port the system hands out, if it is free for the node and for its bus port too. */
async function candidatePort(): Promise<number | undefined> {
	const port = await freePort();
	const usable = port != MACHINE_REDIS_PORT && port + BUS_PORT_OFFSET < 65_536;
	return usable && (await isFree(port + BUS_PORT_OFFSET)) ? port : undefined;
}

async function clusterPorts(count: number): Promise<number[]> {
	const ports = new Set<number>();
	while (ports.size < count) {
		const port = await candidatePort();
		if (port) ports.add(port);
	}
	return [...ports];
}

function spawnNode(port: number, dir: string): ChildProcess {
	return spawn(
		'redis-server',
		[
			...['--port', String(port), '--bind', '127.0.0.1'],
			...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)],
			...['--save', '', '--appendonly', 'no', '--dir', dir]
		],
		{ stdio: 'ignore' }
	);
}

const hasExited = (child: ChildProcess): boolean =>
	child.exitCode !== null || child.signalCode !== null;

/**
 * A Redis Cluster the bench started for itself: 3 masters, no replicas, `--save '' --appendonly
 * no`, on free ports of 127.0.0.1. Its nodes are killed and their files removed when this process
 * exits, even on an uncaught error or a signal.
 *
 * @example
 * const cluster = await BenchRedisCluster.start();
 * process.env.BENCH_REDIS_CLUSTER_URL = cluster.url; // redis-cluster://127.0.0.1:p1,127.0.0.1:p2,…
 * const before = cluster.cpuMicros();
 * await cluster.stop();
 */
export class BenchRedisCluster {
	/** `redis-cluster://host:port,…`, as `RedisEngine` takes it. */
	readonly url: string;
	readonly #nodes: readonly ChildProcess[];
	readonly #dir: string;
	readonly #killOnExit = (): void => this.#killNow();

	private constructor(ports: readonly number[], nodes: readonly ChildProcess[], dir: string) {
		this.url = `redis-cluster://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`;
		this.#nodes = nodes;
		this.#dir = dir;
	}

	static async start(): Promise<BenchRedisCluster> {
		const ports = await clusterPorts(MASTERS);
		const dir = mkdtempSync(join(tmpdir(), 'runesocket-bench-cluster-'));
		const nodes = ports.map((port) => spawnNode(port, dir));
		const cluster = new BenchRedisCluster(ports, nodes, dir);
		process.once('exit', cluster.#killOnExit);
		try {
			await Promise.all(
				ports.map((port, index) => waitUntilAnswering(port, () => hasExited(nodes[index])))
			);
			const addresses = ports.map((port) => `127.0.0.1:${port}`);
			await cli(ports[0], '--cluster', 'create', ...addresses, '--cluster-yes');
			await everyNodeOk(ports);
		} catch (error) {
			await cluster.stop();
			throw error;
		}
		return cluster;
	}

	/** The CPU time the nodes have used so far, summed, in µs (10 ms resolution). */
	cpuMicros(): number {
		return this.#nodes.reduce((sum, node) => sum + processCpuMicros(node.pid), 0);
	}

	async stop(): Promise<void> {
		process.off('exit', this.#killOnExit);
		const exits = this.#nodes
			.filter((node) => !hasExited(node))
			.map((node) => new Promise<void>((resolve) => node.once('exit', () => resolve())));
		for (const node of this.#nodes) if (!hasExited(node)) node.kill('SIGTERM');
		await Promise.all(exits);
		rmSync(this.#dir, { recursive: true, force: true });
	}

	/** For the `exit` event, where nothing asynchronous runs any more. */
	#killNow(): void {
		for (const node of this.#nodes) if (!hasExited(node)) node.kill('SIGKILL');
		rmSync(this.#dir, { recursive: true, force: true });
	}
}

async function cli(port: number, ...args: string[]): Promise<string> {
	const { stdout } = await run('redis-cli', ['-p', String(port), ...args], {
		timeout: CLI_TIMEOUT_MS
	});
	return stdout;
}

/** Resolves once every node says `cluster_state:ok` (its slots are all served), polling. */
async function everyNodeOk(ports: readonly number[]): Promise<void> {
	const deadline = Date.now() + READY_TIMEOUT_MS;
	while (Date.now() < deadline) {
		const states = await Promise.all(ports.map((port) => cli(port, 'cluster', 'info')));
		if (states.every((state) => state.includes('cluster_state:ok'))) return;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(`The bench's Redis Cluster was not ok within ${READY_TIMEOUT_MS} ms`);
}
