import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { endProcess, startProcess } from './process.js';

const SCRIPT = fileURLToPath(new URL('./hardening-server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** How long a control request may take before the server counts as not answering. */
const CONTROL_TIMEOUT_MS = 10_000;

/** What the hardening server reports about itself (`GET /stats`). */
export interface ServerStats {
	readonly pid: number;
	/** The longest a 10 ms timer came late since the last stats call. */
	readonly maxDelayMs: number;
	/** The longest the loop was blocked by the server's own work since the last stats call. */
	readonly maxStallMs: number;
	readonly peakHeapUsed: number;
	readonly heapUsed: number;
	readonly rss: number;
	readonly connections: number;
	/** Connections it closed with 1013 (too slow a reader) so far. */
	readonly slowConsumerCloses: number;
	/** Calls of the routes' `onError` so far. */
	readonly errorsReported: number;
	/** Whether `Object.prototype` is as it was at start. */
	readonly prototypeClean: boolean;
}

/** What a watchdog saw: how long the server went without answering. */
export interface WatchReport {
	/** The longest time between two answered health checks (or from the last answer to the end). */
	readonly longestSilenceMs: number;
	/** Whether one silence reached the watchdog's `hungAfterMs`. */
	readonly hung: boolean;
	readonly checks: number;
}

/** The hardening fixture running in a child process. */
export interface HardeningServer {
	readonly port: number;
	/** `ws://127.0.0.1:<port><path>` */
	url(path: string): string;
	/** Whether the process is still running. */
	readonly alive: boolean;
	/** How it ended, when it ended without being stopped (e.g. `exited with 1`). */
	readonly crash: string | undefined;
	/** Everything it printed (stdout and stderr), for assertion messages. */
	readonly log: string;
	/** Its own measurements; `collect` runs the garbage collector first (for retained heap). */
	stats(collect?: boolean): Promise<ServerStats>;
	/** Starts the numbered feed to `FEED_ROOM`, one publish every `intervalMs`. */
	startFeed(intervalMs?: number): Promise<void>;
	/** Stops the feed; resolves with how many publishes went through. */
	stopFeed(): Promise<{ published: number; failed: number }>;
	/**
	 * Publishes `count` `BulkItem`s of about `size` bytes to `room`, one every `everyMs` (0: one per
	 * event-loop turn).
	 */
	bulk(
		room: string,
		count: number,
		size: number,
		everyMs?: number
	): Promise<{ published: number; rejected: number }>;
	/** Publishes one `BulkItem` of `size` bytes to `FEED_ROOM` by `via`; resolves with the error's name or `sent`. */
	oversize(via: 'publish' | 'to' | 'broadcast', size: number): Promise<string>;
	/** The rooms of the connection with `id`, or null when there is none. */
	rooms(id: string): Promise<string[] | null>;
	/**
	 * Health-checks the server every `everyMs` until the returned function is called; a server
	 * silent for `hungAfterMs` counts as hung.
	 */
	watch(everyMs?: number, hungAfterMs?: number): () => Promise<WatchReport>;
	/** Starts it again (after a crash), on a new port. */
	restart(): Promise<void>;
	/** SIGTERM, then SIGKILL after 10 s; resolves once it exited. */
	stop(): Promise<void>;
}

/**
 * Spawns tests/kit/servers/hardening-server.ts with `env` (e.g. `{ MAX_CONNECTIONS: '50' }`) and
 * resolves once it listens.
 *
 * @example
 * ```ts
 * const server = await startHardeningServer({ AUTH_TIMEOUT_MS: '1000' });
 * await server.startFeed(10);
 * const { maxStallMs } = await server.stats();
 * await server.stop();
 * ```
 */
export async function startHardeningServer(
	env: Record<string, string> = {}
): Promise<HardeningServer> {
	let child: ChildProcess | undefined;
	let port = 0;
	let log = '';
	let crash: string | undefined;

	const spawnOne = async (): Promise<void> => {
		crash = undefined;
		const { ready } = await startProcess(
			process.execPath,
			['--expose-gc', '--import', 'tsx', SCRIPT],
			{
				ready: /Listening on (\d+)/,
				what: 'the hardening server',
				ms: 30_000,
				cwd: ROOT,
				env: { ...env, PORT: '0' },
				onOutput: (text) => (log += text),
				onSpawn: (started) => {
					child = started;
					started.once('exit', (code, signal) => {
						if (child !== started) return;
						child = undefined;
						crash = `exited with ${signal ?? code}`;
					});
				}
			}
		);
		port = Number(ready[1]);
	};

	const call = async <T>(method: 'GET' | 'POST', path: string): Promise<T> => {
		const response = await fetch(`http://127.0.0.1:${port}${path}`, {
			method,
			signal: AbortSignal.timeout(CONTROL_TIMEOUT_MS)
		});
		if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
		return (await response.json()) as T;
	};

	const stop = async (): Promise<void> => {
		const current = child;
		child = undefined;
		if (current) await endProcess(current, 'the hardening server');
	};

	await spawnOne();
	return {
		get port() {
			return port;
		},
		url: (path) => `ws://127.0.0.1:${port}${path}`,
		get alive() {
			return child !== undefined;
		},
		get crash() {
			return crash;
		},
		get log() {
			return log;
		},
		stats: (collect = false) => call<ServerStats>('GET', collect ? '/stats?gc=1' : '/stats'),
		startFeed: async (intervalMs = 10) => {
			await call('POST', `/feed/start?interval=${intervalMs}`);
		},
		stopFeed: () => call('POST', '/feed/stop'),
		bulk: (room, count, size, everyMs = 0) =>
			call(
				'POST',
				`/bulk?room=${encodeURIComponent(room)}&count=${count}&size=${size}&every=${everyMs}`
			),
		oversize: async (via, size) =>
			(await call<{ outcome: string }>('POST', `/oversize?via=${via}&size=${size}`)).outcome,
		rooms: async (id) =>
			(await call<{ rooms: string[] | null }>('GET', `/rooms?id=${encodeURIComponent(id)}`)).rooms,
		watch(everyMs = 200, hungAfterMs = 5_000) {
			let running = true;
			let lastAnswer = performance.now();
			let longestSilenceMs = 0;
			let checks = 0;
			const loop = (async () => {
				while (running) {
					try {
						const response = await fetch(`http://127.0.0.1:${port}/health`, {
							signal: AbortSignal.timeout(hungAfterMs)
						});
						await response.arrayBuffer();
						const now = performance.now();
						longestSilenceMs = Math.max(longestSilenceMs, now - lastAnswer);
						lastAnswer = now;
					} catch {
						// No answer in time: the silence keeps growing until the next one.
					}
					checks++;
					// Pacing, not synchronisation: one health check every `everyMs`.
					await new Promise((resolve) => setTimeout(resolve, everyMs));
				}
			})();
			return async () => {
				running = false;
				await loop;
				longestSilenceMs = Math.max(longestSilenceMs, performance.now() - lastAnswer);
				return {
					longestSilenceMs: Math.round(longestSilenceMs),
					hung: longestSilenceMs >= hungAfterMs,
					checks
				};
			};
		},
		async restart() {
			await stop();
			await spawnOne();
		},
		stop
	};
}

/**
 * One hardening server for the whole test file, started before its first test and stopped after
 * its last; a test that finds it dead (an attack before crashed it) gets a fresh one, so one crash
 * fails its own test, not every test after it.
 *
 * @example
 * ```ts
 * const server = useHardeningServer({ MAX_CONNECTIONS: '50' });
 * it('…', async () => {
 * 	await server().startFeed();
 * });
 * ```
 */
export function useHardeningServer(env: Record<string, string> = {}): () => HardeningServer {
	let server: HardeningServer | undefined;
	beforeAll(async () => {
		server = await startHardeningServer(env);
	}, 40_000);
	beforeEach(async () => {
		if (server && !server.alive) await server.restart();
	}, 40_000);
	afterAll(async () => {
		await server?.stop();
	}, 20_000);
	return () => {
		if (!server) throw new Error('The hardening server has not started');
		return server;
	};
}
