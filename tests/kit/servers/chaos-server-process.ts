import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { Signal } from '../chaos.js';
import { endProcess, startProcess } from './process.js';

const SCRIPT = fileURLToPath(new URL('./chaos-server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** What the chaos server reports about itself (`GET /stats`). */
export interface ServerStats {
	readonly pid: number;
	/** Resident set size, bytes. */
	readonly rss: number;
	/** The longest the loop was blocked by the server's own work since the previous call, ms. */
	readonly maxStallMs: number;
	/** The longest a 10 ms timer came late since the previous call (other processes included), ms. */
	readonly maxDelayMs: number;
	/** Open socket connections. */
	readonly connections: number;
}

/** tests/kit/servers/chaos-server.ts running in a child process, stopped after the test. */
export interface ServerProcess {
	/** The port it listens on (kept across restarts). */
	readonly port: number;
	/** `ws://127.0.0.1:<port>/ws` */
	readonly url: string;
	/** Whether the process is running. */
	readonly running: boolean;
	/** Whether the current process is running and listens (false while it starts). */
	readonly listening: boolean;
	/** Everything it printed so far (stdout and stderr), for assertion messages. */
	readonly log: string;
	/** Exit codes and signals of its processes that ended other than by `kill()` or `stop()`. */
	readonly crashes: readonly string[];
	/** How many processes were spawned so far (1 + restarts), counted as each one starts. */
	readonly starts: number;
	/**
	 * Its `GET /stats`; rejects when the process does not answer within `ms` (default 2 000): a
	 * process alive but not answering is hung.
	 */
	stats(ms?: number): Promise<ServerStats>;
	/** Resolves once `pattern` occurred `count` times in what it printed (all its processes). */
	printed(pattern: RegExp, count?: number, ms?: number): Promise<void>;
	/** SIGKILLs it (as a crash would) and resolves once it exited. */
	kill(): Promise<void>;
	/** Starts it again on the same port; resolves once it listens. */
	restart(): Promise<void>;
	/** SIGTERM, resolves once it exited (SIGKILL if it takes longer than 10 s); also done after every test. */
	stop(): Promise<void>;
}

const running: ServerProcess[] = [];

afterEach(async () => {
	await Promise.all(running.splice(0).map((server) => server.stop()));
});

/**
 * Spawns the chaos server with `env` (e.g. `{ REDIS_URL }`) on `port` (0: any free one); resolves
 * once it printed `Listening on <port>`.
 *
 * @example
 * ```ts
 * const a = await startServerProcess({ REDIS_URL: redis.url });
 * const client = makeClient(a.url);
 * await a.kill();
 * await a.restart();
 * ```
 */
export async function startServerProcess(
	env: Record<string, string> = {},
	port = 0
): Promise<ServerProcess> {
	let log = '';
	const crashes: string[] = [];
	let child: ChildProcess | undefined;
	let currentPort = port;
	let starts = 0;
	let listeningChild: ChildProcess | undefined;
	const printedMore = new Signal();
	const append = (text: string) => {
		log += text;
		printedMore.changed();
	};

	const spawnOne = async (): Promise<void> => {
		const { child: started, ready } = await startProcess(
			process.execPath,
			['--import', 'tsx', SCRIPT],
			{
				ready: /Listening on (\d+)/,
				what: 'the chaos server',
				ms: 20_000,
				cwd: ROOT,
				env: { ...env, PORT: String(currentPort) },
				onOutput: append,
				onSpawn: (spawned) => {
					child = spawned;
					starts++;
					spawned.once('exit', (code, signal) => {
						if (child === spawned) {
							child = undefined;
							crashes.push(`exited with ${signal ?? code}`);
						}
					});
				}
			}
		);
		currentPort = Number(ready[1]);
		listeningChild = started;
	};

	/** Ends the current process with `signal`; resolves once it exited. */
	const end = async (signal: NodeJS.Signals): Promise<void> => {
		const current = child;
		if (!current) return;
		child = undefined;
		await endProcess(current, 'the chaos server', signal);
	};

	await spawnOne();
	const server: ServerProcess = {
		get port() {
			return currentPort;
		},
		get url() {
			return `ws://127.0.0.1:${currentPort}/ws`;
		},
		get running() {
			return child !== undefined;
		},
		get listening() {
			return child !== undefined && child === listeningChild;
		},
		get log() {
			return log;
		},
		crashes,
		get starts() {
			return starts;
		},
		async stats(ms = 2_000) {
			const response = await fetch(`http://127.0.0.1:${currentPort}/stats`, {
				signal: AbortSignal.timeout(ms)
			});
			if (!response.ok) throw new Error(`GET /stats: HTTP ${response.status}`);
			return (await response.json()) as ServerStats;
		},
		printed(pattern, count = 1, ms = 10_000) {
			const global = new RegExp(pattern.source, pattern.flags.replace('g', '') + 'g');
			return printedMore.until(
				() => (log.match(global)?.length ?? 0) >= count,
				`the chaos server to print ${pattern} ${count} time(s)`,
				ms
			);
		},
		kill: () => end('SIGKILL'),
		async restart() {
			await end('SIGKILL');
			await spawnOne();
		},
		stop: () => end('SIGTERM')
	};
	running.push(server);
	return server;
}
