/**
 * `value` as an Error (a thrown non-Error becomes its text).
 */
export function errorFrom(value: unknown): Error {
	return value instanceof Error ? value : new Error(String(value));
}

/**
 * The error a wait past its deadline rejects with: a callback that did not answer, or Redis that did
 * not. Recognised by its class, never by its text.
 */
export class DeadlineError extends Error {
	override name = 'DeadlineError';

	/** How long the wait was allowed to take. */
	readonly ms: number;

	constructor(what: string, ms: number) {
		super(`${what} did not answer within ${ms} ms`);
		this.ms = ms;
	}
}

/**
 * The answer of `work`, awaited at most `ms`: rejects with a `DeadlineError` naming `what` when it
 * takes longer, and with the work's own error when it throws or rejects. `work` is a promise already
 * under way or a callback, which is called here so that a synchronous throw rejects too.
 */
export function withDeadline<T>(
	work: Promise<T> | (() => T | Promise<T>),
	ms: number,
	what: string
): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const late = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new DeadlineError(what, ms)), ms);
	});
	const answer = typeof work == 'function' ? new Promise<T>((resolve) => resolve(work())) : work;
	return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}
