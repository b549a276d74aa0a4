import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { endProcess, freePort, startRedisProcess } from './process.js';

/** A `redis-server` child process of the test, on its own free port. */
export interface RedisServer {
	readonly port: number;
	/** `redis://127.0.0.1:<port>` */
	readonly url: string;
	/** Whether the process is running. */
	readonly running: boolean;
	/** SIGKILLs the process (as a crash would) and resolves once it exited. */
	kill(): Promise<void>;
	/**
	 * Kills it (if running) and starts redis-server again on the same port; resolves once it
	 * accepts connections. It comes back empty unless it is persistent and not told to `wipe`.
	 */
	restart(options?: { wipe?: boolean }): Promise<void>;
	/** Kills it (if running) and removes its directory; also done after every test. */
	stop(): Promise<void>;
}

const running: RedisServer[] = [];

afterEach(async () => {
	await Promise.all(running.splice(0).map((server) => server.stop()));
});

/**
 * Starts `redis-server --port <free> --save '' --appendonly no` (with `persistent`: an append-only
 * file, so a restart keeps every acknowledged write, as a production Redis would), stopped after
 * the test.
 *
 * @example
 * ```ts
 * const redis = await startRedisServer();
 * const engine = new RedisEngine({ redis: redis.url });
 * await redis.kill(); // … and later redis.restart()
 * ```
 */
export async function startRedisServer(
	options: { persistent?: boolean } = {}
): Promise<RedisServer> {
	const persistent = options.persistent ?? false;
	const port = await freePort();
	const dir = mkdtempSync(join(tmpdir(), 'runesocket-redis-'));
	let child: ChildProcess | undefined = await startRedisProcess(port, { dir, persistent });
	const kill = async () => {
		const current = child;
		if (!current) return;
		child = undefined;
		await endProcess(current, `redis-server on ${port}`, 'SIGKILL', 5_000);
	};
	const server: RedisServer = {
		port,
		url: `redis://127.0.0.1:${port}`,
		get running() {
			return child !== undefined;
		},
		kill,
		async restart({ wipe = false } = {}) {
			await kill();
			if (wipe) {
				for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true });
			}
			child = await startRedisProcess(port, { dir, persistent });
		},
		async stop() {
			await kill();
			rmSync(dir, { recursive: true, force: true });
		}
	};
	running.push(server);
	return server;
}
