import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

// Vitest runs its workers without --expose-gc and offers no per-file flags: turning the flag on at
// run time and fetching `gc` from a fresh context works in any worker, so `npm test` needs nothing.
setFlagsFromString('--expose_gc');
const collect = runInNewContext('gc') as () => void;

/**
 * How many of `refs` still point at something after a full garbage collection. Waits for a
 * macrotask first: an object a WeakRef was made for stays alive until the current job ends.
 *
 * @example
 * ```ts
 * const refs = Array.from({ length: 200 }, () => new WeakRef({}));
 * expect(await reachable(refs)).toBe(0);
 * ```
 */
export async function reachable(refs: readonly WeakRef<object>[]): Promise<number> {
	await new Promise<void>((resolve) => setImmediate(resolve));
	collect();
	return refs.filter((ref) => ref.deref() !== undefined).length;
}
