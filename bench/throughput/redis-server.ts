// The bench's own redis-server: started on a free port, without persistence, and stopped when the
// bench ends however it ends (normal end, a thrown error, ^C or SIGTERM).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';

const READY_TIMEOUT_MS = 10_000;
/** Linux reports a process's CPU time in clock ticks of 1/100 s (`getconf CLK_TCK`). */
const MICROS_PER_TICK = 10_000;

/**
 * A port of 127.0.0.1 that nothing listened on a moment ago.
 *
 * @example
 * const port = await freePort();
 */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const probe = createServer();
		probe.once('error', reject);
		probe.listen(0, '127.0.0.1', () => {
			const address = probe.address();
			probe.close(() =>
				typeof address == 'object' && address ? resolve(address.port) : reject(new Error('no port'))
			);
		});
	});
}

/**
 * Resolves once a PING on `port` is answered with PONG, polling until the timeout; fails early once
 * `exited()` says the server is gone.
 *
 * @example
 * await waitUntilAnswering(port, () => child.exitCode !== null);
 */
export async function waitUntilAnswering(port: number, exited: () => boolean): Promise<void> {
	const deadline = Date.now() + READY_TIMEOUT_MS;
	while (Date.now() < deadline && !exited()) {
		const answered = await new Promise<boolean>((resolve) => {
			const socket = new Socket();
			socket.once('error', () => resolve(false));
			socket.once('data', (data) => {
				resolve(data.toString().startsWith('+PONG'));
				socket.destroy();
			});
			socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
		});
		if (answered) return;
		await new Promise((resolve) => setTimeout(resolve, 50));
	}
	throw new Error(`redis-server on port ${port} did not answer within ${READY_TIMEOUT_MS} ms`);
}

/**
 * The CPU time (user + system) process `pid` has used so far, in µs (10 ms resolution).
 *
 * @example
 * const micros = processCpuMicros(child.pid);
 */
export function processCpuMicros(pid: number | undefined): number {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	// Fields after the ")" that ends the command name: state is field 3, utime 14, stime 15.
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) * MICROS_PER_TICK;
}

/**
 * A redis-server the bench started for itself: `--save '' --appendonly no` on a free port of
 * 127.0.0.1. It is killed when this process exits, even on an uncaught error or a signal.
 *
 * @example
 * const redis = await BenchRedis.start();
 * process.env.BENCH_REDIS_URL = redis.url;
 * const before = redis.cpuMicros();
 * await redis.stop();
 */
export class BenchRedis {
	readonly url: string;
	readonly #process: ChildProcess;

	private constructor(port: number, child: ChildProcess) {
		this.url = `redis://127.0.0.1:${port}`;
		this.#process = child;
	}

	static async start(): Promise<BenchRedis> {
		const port = await freePort();
		const child = spawn(
			'redis-server',
			['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
			{ stdio: 'ignore' }
		);
		const kill = (): void => void child.kill('SIGKILL');
		process.once('exit', kill);
		child.once('exit', () => process.off('exit', kill));
		await waitUntilAnswering(port, () => child.exitCode !== null || child.signalCode !== null);
		return new BenchRedis(port, child);
	}

	/** redis-server's version, e.g. `7.0.15`. */
	static version(): string {
		const line = execFileSync('redis-server', ['--version'], { encoding: 'utf8' });
		return /v=(\S+)/.exec(line)?.[1] ?? 'unknown';
	}

	/** The redis-server process's id, e.g. to read its CPU time with others of a group. */
	get pid(): number {
		return this.#process.pid!;
	}

	/** The CPU time redis-server has used so far, in µs (10 ms resolution). */
	cpuMicros(): number {
		return processCpuMicros(this.#process.pid);
	}

	async stop(): Promise<void> {
		if (this.#process.exitCode !== null || this.#process.signalCode !== null) return;
		const exited = new Promise<void>((resolve) => this.#process.once('exit', () => resolve()));
		this.#process.kill('SIGTERM');
		await exited;
	}
}

/**
 * Makes ^C and SIGTERM end the bench through `process.exit`, so every `exit` cleanup (the
 * redis-server, child processes) runs.
 *
 * @example
 * exitOnSignals();
 */
export function exitOnSignals(): void {
	process.once('SIGINT', () => process.exit(130));
	process.once('SIGTERM', () => process.exit(143));
}
