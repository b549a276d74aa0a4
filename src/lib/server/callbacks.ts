/**
 * How long an application callback that decides something (`authenticate`, `authorizeJoin`) may
 * take before the server decides without it, and how long handlers have to answer a request before
 * the server answers it `no_reply` (a close the server decides meanwhile waits as long at most).
 */
export const CALLBACK_TIMEOUT_MS = 5_000;

/**
 * Runs an application callback that returns nothing the server needs: an exception or a rejection
 * goes to `report`, never up (in Node 20 an unhandled rejection ends the process).
 *
 * @example
 * ```ts
 * contain(() => route.options.onConnect?.(connection), (error) => report(connection, error));
 * ```
 */
export function contain(callback: () => unknown, report: (error: unknown) => void): void {
	try {
		const result = callback();
		if (result instanceof Promise) result.catch(report);
	} catch (error) {
		report(error);
	}
}

/**
 * The answer of an application callback, awaited at most `ms`: rejects with an Error naming `what`
 * when it throws, rejects or takes longer.
 *
 * @example
 * ```ts
 * const allowed = await withDeadline(() => authorizeJoin(connection, room), CALLBACK_TIMEOUT_MS, 'authorizeJoin');
 * ```
 */
export function withDeadline<T>(
	callback: () => T | Promise<T>,
	ms: number,
	what: string
): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const late = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
	});
	const answer = new Promise<T>((resolve) => resolve(callback()));
	return Promise.race([answer, late]).finally(() => clearTimeout(timer));
}
