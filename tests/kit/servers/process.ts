import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { within } from '../wait.js';

// The one way a test starts a process of its own (a server, redis-server) and waits for it to be
// ready, in vitest and in Playwright alike: nothing here registers a test hook.

/** The machine's own Redis listens there: tests never take its port. */
const MACHINE_REDIS_PORT = 6379;

/** A port nothing listens on at 127.0.0.1 right now (never the machine's Redis), that `usable` accepts. */
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

/** How to start a process and how to know it is ready. */
export interface StartOptions {
	/** What it prints (stdout or stderr) once it is ready, e.g. `/Listening on (\d+)/`. */
	ready: RegExp;
	/** Names it in a timeout's or an early exit's error. */
	what: string;
	/** How long it may take to be ready; default 5 000 ms. */
	ms?: number;
	cwd?: string;
	/** Added to this process's environment. */
	env?: Record<string, string>;
	/** Everything it prints, stdout and stderr, as it comes (also after it is ready). */
	onOutput?: (text: string) => void;
	/** Called with the child as soon as it is spawned, before it is ready. */
	onSpawn?: (child: ChildProcess) => void;
}

/** A started process and the match of its ready line. */
export interface Started {
	readonly child: ChildProcess;
	readonly ready: RegExpExecArray;
}

/**
 * Spawns `command` with `args` and resolves once it printed `ready`; rejects with what it printed
 * when it exits first or is not ready within `ms`.
 */
export async function startProcess(
	command: string,
	args: readonly string[],
	options: StartOptions
): Promise<Started> {
	const child = spawn(command, args, {
		cwd: options.cwd,
		env: { ...process.env, ...options.env },
		stdio: ['ignore', 'pipe', 'pipe']
	});
	options.onSpawn?.(child);
	let output = '';
	let isReady = false;
	const ready = new Promise<RegExpExecArray>((resolve, reject) => {
		const read = (chunk: Buffer) => {
			const text = chunk.toString();
			options.onOutput?.(text);
			// Once ready, the output is the caller's (onOutput): matching a growing string on every
			// chunk cost this process CPU that a measured child on the same two cores then missed.
			if (isReady) return;
			output += text;
			const match = options.ready.exec(output);
			if (match) {
				isReady = true;
				resolve(match);
			}
		};
		child.stdout?.on('data', read);
		child.stderr?.on('data', read);
		child.once('error', reject);
		child.once('exit', (code, signal) =>
			reject(
				new Error(`${options.what} exited (${signal ?? code}) before it was ready:\n${output}`)
			)
		);
	});
	try {
		return { child, ready: await within(ready, `${options.what} to be ready`, options.ms) };
	} catch (error) {
		child.kill('SIGKILL');
		throw error;
	}
}

/**
 * Ends `child` with `signal` and resolves once it exited; a process that ignores SIGTERM for
 * `graceMs` gets a SIGKILL.
 */
export async function endProcess(
	child: ChildProcess,
	what: string,
	signal: NodeJS.Signals = 'SIGTERM',
	graceMs = 10_000
): Promise<void> {
	if (child.exitCode !== null || child.signalCode !== null) return;
	const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
	child.kill(signal);
	try {
		await within(exited, `${what} to exit on ${signal}`, graceMs);
	} catch (error) {
		if (signal == 'SIGKILL') throw error;
		child.kill('SIGKILL');
		await within(exited, `${what} to exit on SIGKILL`);
	}
}

/** What `redis-server` is started with by default: 127.0.0.1 only, nothing saved. */
export interface RedisProcessOptions {
	/** Its working directory (for an append-only file or a cluster's node file). */
	dir?: string;
	/** An append-only file, so a restart keeps every acknowledged write. */
	persistent?: boolean;
	/** More arguments, e.g. `['--cluster-enabled', 'yes']`. */
	extra?: readonly string[];
}

/** Starts `redis-server` on 127.0.0.1:`port` and resolves once it accepts connections. */
export async function startRedisProcess(
	port: number,
	{ dir, persistent = false, extra = [] }: RedisProcessOptions = {}
): Promise<ChildProcess> {
	const args = [
		...['--port', String(port), '--bind', '127.0.0.1', '--save', ''],
		// Redis writes its append-only file before it answers: a SIGKILL loses nothing it acknowledged.
		...['--appendonly', persistent ? 'yes' : 'no', '--appendfsync', 'no'],
		...(dir ? ['--dir', dir] : []),
		...['--daemonize', 'no', '--loglevel', 'notice'],
		...extra
	];
	const { child } = await startProcess('redis-server', args, {
		ready: /Ready to accept connections/,
		what: `redis-server on ${port}`
	});
	return child;
}
