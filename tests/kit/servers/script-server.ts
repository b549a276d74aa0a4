import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach } from 'vitest';
import { endProcess, startProcess } from './process.js';

const ROOT = fileURLToPath(new URL('../../..', import.meta.url));

/** A test server script (one that ends in `serveInChild`) running in a child process. */
export interface ScriptServer {
	/** `ws://127.0.0.1:<port>/ws` */
	readonly url: string;
	/** `http://127.0.0.1:<port>`, for its control endpoints. */
	readonly base: string;
	/** Everything it printed so far. */
	readonly log: string;
	/** SIGKILLs it (a crash) and resolves once it exited. */
	kill(): Promise<void>;
}

const running: { child: ChildProcess; what: string }[] = [];

afterEach(async () => {
	await Promise.all(
		running.splice(0).map(({ child, what }) => endProcess(child, what, 'SIGTERM', 5_000))
	);
});

/**
 * Runs `script` (a file URL or path) under `node --import tsx` with `env`, resolves once it printed
 * `Listening on <port>`, and stops it (SIGTERM) after the test. `what` names it in errors.
 */
export async function startScriptServer(
	script: string | URL,
	what: string,
	env: Record<string, string>
): Promise<ScriptServer> {
	let log = '';
	const path = script instanceof URL ? fileURLToPath(script) : script;
	const { child, ready } = await startProcess(process.execPath, ['--import', 'tsx', path], {
		ready: /Listening on (\d+)/,
		what,
		ms: 20_000,
		cwd: ROOT,
		env,
		onOutput: (text) => (log += text)
	});
	running.push({ child, what });
	return {
		url: `ws://127.0.0.1:${ready[1]}/ws`,
		base: `http://127.0.0.1:${ready[1]}`,
		get log() {
			return log;
		},
		kill: () => endProcess(child, what, 'SIGKILL', 5_000)
	};
}
