/**
 * `promise`, or a rejection saying Redis did not answer when it takes longer than `ms`.
 *
 * @example
 * ```ts
 * const reply = await within(redis.ping(), 5_000);
 * ```
 */
export function within<T>(promise: Promise<T>, ms: number): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const late = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
	});
	return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
