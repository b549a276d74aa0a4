import { startScriptServer } from './script-server.js';

const SCRIPT = new URL('./users-server.ts', import.meta.url);

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

/** Starts the users server with `env` (REDIS_URL, MAX_PER_USER, PRESENCE_TTL_MS). */
export async function startUsersServer(env: Record<string, string>): Promise<UsersServerProcess> {
	const server = await startScriptServer(SCRIPT, 'the users server', env);
	const { base } = server;
	return {
		url: server.url,
		get log() {
			return server.log;
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
		kill: () => server.kill()
	};
}
