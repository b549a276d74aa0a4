import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';

/**
 * One line about the machine and the code under test, for the head of the report.
 *
 * @example
 * console.log(describeMachine()); // 'Node v20.20.0, 2 × Intel …, 7.8 GiB, commit 841d172 (+ local changes)'
 */
export function describeMachine(): string {
	const processors = cpus();
	const memory = `${(totalmem() / 2 ** 30).toFixed(1)} GiB`;
	return `Node ${process.version}, ${processors.length} × ${processors[0]?.model ?? 'unknown CPU'}, ${memory}, runesocket at ${describeCommit()}`;
}

function describeCommit(): string {
	try {
		const git = (...args: string[]): string =>
			execFileSync('git', args, { encoding: 'utf8' }).trim();
		// Any tracked file counts: the page and route suites build the demo and the bench itself.
		const dirty = git('status', '--porcelain', '--untracked-files=no') != '';
		return `commit ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' + uncommitted changes' : ' (clean)'}`;
	} catch {
		return 'an unknown commit';
	}
}

/**
 * The 1-minute load average, which says how busy the machine was around a measurement.
 *
 * @example
 * console.log(`load ${loadAverage()}`); // 'load 0.53'
 */
export function loadAverage(): string {
	return loadavg()[0].toFixed(2);
}
