import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

/** Where the simulator's entry is: from the project's root, in dev and after `npm run build` alike. */
const ENTRY = resolve(process.cwd(), 'src/demo/simulator-process.ts');
/** A simulator that exits on its own is started again this much later. */
const RESTART_DELAY_MS = 1_000;

/**
 * Runs `src/demo/simulator-process.ts` in a child process (through tsx), started again if it
 * exits, with this process's environment: every server process forks one, and their Redis lease
 * lets one of them run. Returns the function that stops it. The child also ends when this process
 * does (its IPC channel closes).
 *
 * @example
 * ```ts
 * const stop = forkSimulator();
 * process.once('SIGTERM', stop);
 * ```
 */
export function forkSimulator(): () => void {
	if (!existsSync(ENTRY)) {
		console.error(`[demo] no simulator: ${ENTRY} is missing`);
		return () => {};
	}
	let child: ChildProcess | undefined;
	let stopped = false;
	let restartTimer: ReturnType<typeof setTimeout> | undefined;
	const start = () => {
		const started = fork(ENTRY, [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
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
