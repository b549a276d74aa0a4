import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { within } from '../wait.js';

/** The machine's own Redis listens there: tests never touch it. */
const MACHINE_REDIS_PORT = 6379;

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

/** A port nothing listens on right now (never the machine's own Redis), that `usable` accepts. */
export async function freePort(usable: (port: number) => boolean = () => true): Promise<number> {
	for (;;) {
		const port = await new Promise<number>((resolve, reject) => {
			const probe = createServer();
			probe.once('error', reject);
			probe.listen(0, '127.0.0.1', () => {
				const address = probe.address();
				probe.close(() => resolve(typeof address == 'object' && address ? address.port : 0));
			});
		});
		if (port && port != MACHINE_REDIS_PORT && usable(port)) return port;
	}
}

/** Spawns redis-server and resolves once it logged that it accepts connections. */
async function spawnRedis(port: number, dir: string, persistent: boolean): Promise<ChildProcess> {
	return spawnRedisServer(
		[
			'--port',
			String(port),
			'--bind',
			'127.0.0.1',
			'--save',
			'',
			// Redis writes its append-only file before it answers: a SIGKILL loses nothing it acknowledged.
			'--appendonly',
			persistent ? 'yes' : 'no',
			'--appendfsync',
			'no',
			'--dir',
			dir,
			'--daemonize',
			'no',
			'--loglevel',
			'notice'
		],
		`redis-server to listen on ${port}`
	);
}

/**
 * Spawns `redis-server` with `args` and resolves once it logged that it accepts connections (what
 * `what` names in the timeout's message); rejects with its log when it exits first.
 */
export async function spawnRedisServer(args: string[], what: string): Promise<ChildProcess> {
	const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
	let log = '';
	await within(
		new Promise<void>((resolve, reject) => {
			const read = (chunk: Buffer) => {
				log += chunk.toString();
				if (log.includes('Ready to accept connections')) resolve();
			};
			child.stdout?.on('data', read);
			child.stderr?.on('data', read);
			child.once('error', reject);
			child.once('exit', (code) =>
				reject(new Error(`redis-server exited (${code}) before it was ready:\n${log}`))
			);
		}),
		what
	);
	child.stdout?.resume();
	child.stderr?.resume();
	return child;
}

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
	let child: ChildProcess | undefined = await spawnRedis(port, dir, persistent);
	const kill = async () => {
		const current = child;
		if (!current) return;
		child = undefined;
		if (current.exitCode !== null || current.signalCode !== null) return;
		const exited = new Promise<void>((resolve) => current.once('exit', () => resolve()));
		current.kill('SIGKILL');
		await within(exited, `redis-server on ${port} to exit`);
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
			child = await spawnRedis(port, dir, persistent);
		},
		async stop() {
			await kill();
			rmSync(dir, { recursive: true, force: true });
		}
	};
	running.push(server);
	return server;
}
