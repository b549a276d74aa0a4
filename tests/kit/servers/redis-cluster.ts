import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach } from 'vitest';
import { endProcess, freePort, startRedisProcess } from './process.js';
import { until } from '../wait.js';

const run = promisify(execFile);

/**
 * How long a master may be unreachable before its replica takes over. Short, so the failover test
 * waits about a second, long enough that a busy machine does not fail over a healthy master.
 */
const NODE_TIMEOUT_MS = 1_000;

/** How often the cluster's state is polled: it is a process of redis-server's, not ours to watch. */
const POLL_MS = 50;

/** One `redis-server --cluster-enabled yes` child process of the test. */
export interface ClusterNodeProcess {
	readonly port: number;
	readonly running: boolean;
	/** SIGKILLs it (as a crash would) and resolves once it exited. */
	kill(): Promise<void>;
}

/** A Redis Cluster of child processes on free ports, stopped after the test. */
export interface RedisClusterProcess {
	/** `{ host, port }` of every node: the startup nodes of a client. */
	readonly nodes: readonly { host: string; port: number }[];
	/** `redis-cluster://host:port,…` of every node: what `REDIS_URL` or the engine's `redis` takes. */
	readonly url: string;
	/** The masters as created (a failover may have changed them since). */
	readonly masters: readonly ClusterNodeProcess[];
	/** Runs `redis-cli -p <port> <args…>` and returns what it printed. */
	cli(port: number, ...args: string[]): Promise<string>;
	/** The port of the master serving `key`'s slot now, according to the node on `askPort`. */
	masterOf(key: string, askPort?: number): Promise<number>;
	/** Resolves once every live node says `cluster_state:ok` and agrees that `port` is no master. */
	failedOver(port: number, ms?: number): Promise<void>;
	/** The port of the replica of the master on `port`. */
	replicaOf(port: number): Promise<number>;
	/**
	 * Resolves once every live replica's link is up and it has everything its master wrote (equal
	 * replication offsets), so a failover now loses nothing.
	 */
	replicated(ms?: number): Promise<void>;
	/**
	 * Cuts the master on `port` off from its replica for good (the replica may no longer sync, and its
	 * link is dropped), so what the master is written next is never replicated: a failover loses it,
	 * as a crash right after the writes would.
	 */
	withholdReplication(port: number): Promise<void>;
	/** Kills every node and removes their files; also done after every test. */
	stop(): Promise<void>;
}

const running: RedisClusterProcess[] = [];

afterEach(async () => {
	await Promise.all(running.splice(0).map((cluster) => cluster.stop()));
});

async function freePorts(count: number): Promise<number[]> {
	const ports = new Set<number>();
	// The cluster bus listens on port + 10000: both must be free and below 65536.
	while (ports.size < count) ports.add(await freePort((port) => port + 10_000 < 65_536));
	return [...ports];
}

function spawnNode(port: number, dir: string): Promise<ChildProcess> {
	return startRedisProcess(port, {
		dir,
		extra: [
			...['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, `nodes-${port}.conf`)],
			...['--cluster-node-timeout', String(NODE_TIMEOUT_MS)],
			// A replica refuses to fail over until its first sync ended (it counts as disconnected since
			// its start); Redis delays a diskless sync 5 s by default, hoping more replicas join.
			...['--repl-diskless-sync-delay', '0']
		]
	});
}

function nodeProcess(port: number, child: ChildProcess): ClusterNodeProcess {
	let current: ChildProcess | undefined = child;
	return {
		port,
		get running() {
			return current !== undefined;
		},
		async kill() {
			const process = current;
			current = undefined;
			if (process) await endProcess(process, `cluster node ${port}`, 'SIGKILL', 5_000);
		}
	};
}

/** `127.0.0.1:7000@17000` → 7000 */
function portOf(address: string): number {
	return Number(address.split(':')[1].split('@')[0]);
}

/** The `field:value` lines of an `INFO` section. */
function fieldsOf(info: string): Map<string, string> {
	const fields = new Map<string, string>();
	for (const line of info.split('\n')) {
		const [field, value] = line.trim().split(':');
		if (value !== undefined) fields.set(field, value);
	}
	return fields;
}

/**
 * Starts `masters` masters (each with `replicas` replicas) on free ports, creates the cluster with
 * `redis-cli --cluster create` and resolves once every node says `cluster_state:ok`. Stopped after
 * the test.
 *
 * @example
 * ```ts
 * const cluster = await startRedisCluster({ replicas: 1 });
 * const engine = new RedisEngine({ redis: { cluster: cluster.nodes } });
 * ```
 */
export async function startRedisCluster(
	options: { masters?: number; replicas?: number } = {}
): Promise<RedisClusterProcess> {
	const masterCount = options.masters ?? 3;
	const replicas = options.replicas ?? 0;
	const ports = await freePorts(masterCount * (1 + replicas));
	const dir = mkdtempSync(join(tmpdir(), 'runesocket-cluster-'));
	const processes: ClusterNodeProcess[] = [];
	const stop = async () => {
		await Promise.all(processes.map((node) => node.kill()));
		rmSync(dir, { recursive: true, force: true });
	};
	const cli = async (port: number, ...args: string[]) =>
		(await run('redis-cli', ['-p', String(port), ...args], { timeout: 20_000 })).stdout;
	const cluster: RedisClusterProcess = {
		nodes: ports.map((port) => ({ host: '127.0.0.1', port })),
		url: `redis-cluster://${ports.map((port) => `127.0.0.1:${port}`).join(',')}`,
		get masters() {
			return processes.slice(0, masterCount);
		},
		cli,
		async masterOf(key, askPort = ports[0]) {
			const slot = (await cli(askPort, 'cluster', 'keyslot', key)).trim();
			const shards = await cli(askPort, 'cluster', 'nodes');
			for (const line of shards.split('\n')) {
				const [, address, flags, , , , , , ...ranges] = line.split(' ');
				if (!flags?.includes('master') || flags.includes('fail')) continue;
				for (const range of ranges) {
					const [from, to = from] = range.split('-').map(Number);
					if (Number(slot) >= from && Number(slot) <= to) return portOf(address);
				}
			}
			throw new Error(`no master serves the slot of ${key}`);
		},
		async failedOver(port, ms = 20_000) {
			const live = processes.filter((node) => node.running);
			await until(
				async () => {
					for (const node of live) {
						if (!(await cli(node.port, 'cluster', 'info')).includes('cluster_state:ok'))
							return false;
						const fields = (await cli(node.port, 'cluster', 'nodes'))
							.split('\n')
							.find((line) => line.includes(`:${port}@`))
							?.split(' ');
						// Its line: id address flags master ping pong epoch link-state [slots…]
						if (fields && (!fields[2].includes('fail') || fields.length > 8)) return false;
					}
					return true;
				},
				`the slots of ${port} to fail over`,
				{ ms, everyMs: POLL_MS }
			);
		},
		async replicaOf(port) {
			const masterId = (await cli(port, 'cluster', 'myid')).trim();
			const line = (await cli(port, 'cluster', 'nodes'))
				.split('\n')
				.find((entry) => entry.split(' ')[3] == masterId);
			if (!line) throw new Error(`the master on ${port} has no replica`);
			return portOf(line.split(' ')[1]);
		},
		async replicated(ms = 20_000) {
			const live = processes.filter((node) => node.running);
			await until(
				async () => {
					for (const node of live) {
						const replica = fieldsOf(await cli(node.port, 'info', 'replication'));
						if (replica.get('role') != 'slave') continue;
						if (replica.get('master_link_status') != 'up') return false;
						const master = fieldsOf(
							await cli(Number(replica.get('master_port')), 'info', 'replication')
						);
						if (master.get('master_repl_offset') != replica.get('slave_repl_offset')) return false;
					}
					return true;
				},
				'every replica to have what its master wrote',
				{ ms, everyMs: POLL_MS }
			);
		},
		async withholdReplication(port) {
			// Replicas sync as the default user; the app's clients do not need these commands.
			await cli(port, 'acl', 'setuser', 'default', '-sync', '-psync', '-replconf');
			await cli(port, 'client', 'kill', 'type', 'replica');
		},
		stop
	};
	running.push(cluster);
	try {
		for (const port of ports) processes.push(nodeProcess(port, await spawnNode(port, dir)));
		await cli(
			ports[0],
			'--cluster',
			'create',
			...ports.map((port) => `127.0.0.1:${port}`),
			'--cluster-replicas',
			String(replicas),
			'--cluster-yes'
		);
		await until(
			async () => {
				for (const port of ports) {
					if (!(await cli(port, 'cluster', 'info')).includes('cluster_state:ok')) return false;
				}
				return true;
			},
			'the cluster to be ok',
			{ ms: 20_000, everyMs: POLL_MS }
		);
		if (replicas) await cluster.replicated();
	} catch (error) {
		await stop();
		throw error;
	}
	return cluster;
}
