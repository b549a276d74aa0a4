import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What `npm run build` emits next to adapter-node's `handler.js`: the simulator as plain JavaScript. */
const BUILT_ENTRY = 'simulator.js';
/** A simulator that exits on its own is started again this much later. */
const RESTART_DELAY_MS = 1_000;

/** A script to fork, and the Node flags it needs. */
interface SimulatorEntry {
	readonly path: string;
	readonly execArgv: readonly string[];
}

/**
 * Where the simulator is, from this module's own location (the working directory may be anywhere):
 * bundled into a production build, the build's `simulator.js` run by plain node; from the source
 * (`vite dev`, tests), `simulator-process.ts` beside this file, through tsx.
 */
function simulatorEntry(): SimulatorEntry | undefined {
	const here = dirname(fileURLToPath(import.meta.url));
	const built = builtEntry(here);
	if (built) return { path: built, execArgv: [] };
	const source = join(here, 'simulator-process.ts');
	if (existsSync(source)) return { path: source, execArgv: ['--import', 'tsx'] };
	return undefined;
}

/** The `simulator.js` beside the `handler.js` of the build this module was bundled into, if any. */
function builtEntry(from: string): string | undefined {
	for (let directory = from; ; directory = dirname(directory)) {
		const entry = join(directory, BUILT_ENTRY);
		if (existsSync(entry) && existsSync(join(directory, 'handler.js'))) return entry;
		if (dirname(directory) === directory) return undefined;
	}
}

/**
 * Runs the demo's simulator (`src/demo/simulator-process.ts`) in a child process, started again if
 * it exits, with this process's environment: every server process forks one, and their Redis lease
 * lets one of them run. In a production build it runs `build/simulator.js` (emitted by
 * `npm run build`) with plain node; from the source, the TypeScript through tsx. Returns the
 * function that stops it. The child also ends when this process does (its IPC channel closes).
 *
 * @example
 * ```ts
 * const stop = forkSimulator();
 * process.once('SIGTERM', stop);
 * ```
 */
export function forkSimulator(): () => void {
	const entry = simulatorEntry();
	if (!entry) {
		console.error(`[demo] no simulator: no ${BUILT_ENTRY} in this build (run npm run build)`);
		return () => {};
	}
	let child: ChildProcess | undefined;
	let stopped = false;
	let restartTimer: ReturnType<typeof setTimeout> | undefined;
	const start = () => {
		// execArgv is always given: the default (this process's flags) could carry a loader or an inspector port.
		const started = fork(entry.path, [], { execArgv: [...entry.execArgv], stdio: 'inherit' });
		child = started;
		started.once('exit', () => {
			if (child !== started || stopped) return;
			restartTimer = setTimeout(start, RESTART_DELAY_MS);
			restartTimer.unref();
		});
		// The IPC channel must not keep this process alive on its own.
		started.unref();
		started.channel?.unref();
	};
	start();
	return () => {
		stopped = true;
		clearTimeout(restartTimer);
		child?.kill('SIGTERM');
	};
}
