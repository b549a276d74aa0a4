import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { until } from '../wait.js';
import { startScriptServer } from './script-server.js';

const SCRIPT = new URL('./keyed-server.ts', import.meta.url);

/** tests/kit/servers/keyed-server.ts in a child process, stopped after the test. */
export interface KeyedServerProcess {
	/** `ws://127.0.0.1:<port>/ws` */
	readonly url: string;
	/** Everything it printed. */
	readonly log: string;
	/** How many times its handler started for `key`. */
	starts(key: string): number;
	/** Resolves once its handler started for `key` (`count` times in all). */
	started(key: string, count?: number): Promise<void>;
	/** Lets its handler held for `key` (or the next one) do its effect and answer. */
	release(key: string): Promise<void>;
	/** Resolves once its engine's `healthy` is `value` (Redis gone, or back). */
	healthy(value: boolean, ms?: number): Promise<void>;
	/** SIGKILLs it (a crash) and resolves once it exited. */
	kill(): Promise<void>;
}

/** Where the keyed servers of a test write their side effects: one line per effect, its key. */
export interface EffectsFile {
	readonly path: string;
	/** How many effects `key` had, on every process. */
	count(key: string): number;
}

const dirs: string[] = [];

afterEach(() => {
	for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh effects file for the test's keyed servers, removed after it. */
export function effectsFile(): EffectsFile {
	const dir = mkdtempSync(join(tmpdir(), 'runesocket-effects-'));
	dirs.push(dir);
	const path = join(dir, 'effects');
	return {
		path,
		count: (key) =>
			existsSync(path)
				? readFileSync(path, 'utf8')
						.split('\n')
						.filter((line) => line == key).length
				: 0
	};
}

/** How many lines of `log` are `line`. */
function linesOf(log: string, line: string): number {
	return log.split('\n').filter((printed) => printed == line).length;
}

/** Starts a keyed server on the Redis at `redis`, writing its effects to `effects`. */
export async function startKeyedServer(
	redis: string,
	effects: EffectsFile,
	options: { lease?: number } = {}
): Promise<KeyedServerProcess> {
	const env: Record<string, string> = { REDIS_URL: redis, EFFECTS_FILE: effects.path };
	if (options.lease !== undefined) env.LEASE_MS = String(options.lease);
	const server = await startScriptServer(SCRIPT, 'the keyed server', env);
	const { base } = server;
	const linesOfLog = (line: string) => linesOf(server.log, line);
	return {
		url: server.url,
		get log() {
			return server.log;
		},
		starts: (key) => linesOfLog(`started ${key}`),
		started: (key, count = 1) =>
			until(() => linesOfLog(`started ${key}`) >= count, `the handler of ${key} to start`, {
				ms: 10_000,
				everyMs: 5
			}),
		async release(key) {
			const response = await fetch(`${base}/release?${new URLSearchParams({ key })}`, {
				method: 'POST',
				signal: AbortSignal.timeout(5_000)
			});
			if (response.status != 204) throw new Error(`POST /release: HTTP ${response.status}`);
		},
		healthy: (value, ms = 10_000) =>
			until(
				async () => {
					const response = await fetch(`${base}/health`, { signal: AbortSignal.timeout(1_000) });
					return ((await response.json()) as { healthy: boolean }).healthy == value;
				},
				`the keyed server’s engine to be healthy == ${value}`,
				{ ms, everyMs: 20 }
			),
		kill: () => server.kill()
	};
}
