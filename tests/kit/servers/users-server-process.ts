import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { endProcess, startProcess } from './process.js';

const SCRIPT = fileURLToPath(new URL('./users-server.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** What `GET /stats` of tests/kit/servers/users-server.ts answers. */
export interface UsersServerStats {
	/** The user id of every open, authenticated connection. */
	readonly connections: readonly (string | undefined)[];
	readonly metrics: {
		readonly userConnectionsRefused: Record<string, number>;
		readonly userConnectionsRevoked: number;
	};
}

/** tests/kit/servers/users-server.ts in a child process, stopped after the test. */
export interface UsersServerProcess {
	/** `ws://127.0.0.1:<port>/ws` */
	readonly url: string;
	/** Everything it printed. */
	readonly log: string;
	/** `POST <path>?<query>`; rejects unless answered 204. */
	post(path: string, query: Record<string, string>): Promise<void>;
	stats(): Promise<UsersServerStats>;
	/** SIGKILLs it (a crash) and resolves once it exited. */
	kill(): Promise<void>;
}

const running: ChildProcess[] = [];

afterEach(async () => {
	await Promise.all(
		running.splice(0).map((child) => endProcess(child, 'the users server', 'SIGTERM', 5_000))
	);
});

/** Starts the users server with `env` (REDIS_URL, MAX_PER_USER, PRESENCE_TTL_MS). */
export async function startUsersServer(env: Record<string, string>): Promise<UsersServerProcess> {
	let log = '';
	const { child, ready } = await startProcess(process.execPath, ['--import', 'tsx', SCRIPT], {
		ready: /Listening on (\d+)/,
		what: 'the users server',
		ms: 20_000,
		cwd: ROOT,
		env,
		onOutput: (text) => (log += text)
	});
	running.push(child);
	const base = `http://127.0.0.1:${ready[1]}`;
	return {
		url: `ws://127.0.0.1:${ready[1]}/ws`,
		get log() {
			return log;
		},
		async post(path, query) {
			const response = await fetch(`${base}${path}?${new URLSearchParams(query)}`, {
				method: 'POST',
				signal: AbortSignal.timeout(5_000)
			});
			if (response.status != 204) {
				throw new Error(`POST ${path}: HTTP ${response.status} ${await response.text()}`);
			}
		},
		async stats() {
			const response = await fetch(`${base}/stats`, { signal: AbortSignal.timeout(5_000) });
			return (await response.json()) as UsersServerStats;
		},
		kill: () => endProcess(child, 'the users server', 'SIGKILL', 5_000)
	};
}
