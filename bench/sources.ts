// What the route and page benches build: one copy of the project's sources, in a directory of
// their own, from the working tree or from a commit.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Puts the sources to build in `work`: the commit `ref` of the repository `repo` (its whole tree,
 * from `git archive`), or `inputs` as they are in `repo` now. Returns what was built, for the report.
 *
 * @example
 * ```ts
 * copySources(repo, dir, ['src', 'package.json'], 'HEAD~3'); // 'commit 1a2b3c4'
 * ```
 */
export function copySources(
	repo: string,
	work: string,
	inputs: readonly string[],
	ref: string | undefined
): string {
	const git = (...args: string[]): string =>
		execFileSync('git', args, { cwd: repo, encoding: 'utf8' }).trim();
	if (ref) {
		const commit = git('rev-parse', '--verify', `${ref}^{commit}`);
		const archive = spawnSync('git', ['archive', '--format=tar', commit], {
			cwd: repo,
			maxBuffer: 512 * 2 ** 20
		});
		if (archive.status != 0) throw new Error(`git archive ${commit} failed`);
		execFileSync('tar', ['-x', '-C', work], { input: archive.stdout });
		return `commit ${commit.slice(0, 7)}`;
	}
	for (const entry of inputs) cpSync(join(repo, entry), join(work, entry), { recursive: true });
	const dirty = git('status', '--porcelain', '--', ...inputs) != '';
	return `the working tree at ${git('rev-parse', '--short', 'HEAD')}${dirty ? ' (+ local changes)' : ''}`;
}
