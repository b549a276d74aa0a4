import { errorFrom } from '../engine/errors.js';

/**
 * How long an application callback that decides something (`authenticate`, `authorizeJoin`) may
 * take before the server decides without it, and how long handlers have to answer a request before
 * the server answers it `no_reply` (a close the server decides meanwhile waits as long at most).
 */
export const CALLBACK_TIMEOUT_MS = 5_000;

/**
 * Runs an application callback that returns nothing the server needs: an exception or a rejection
 * goes to `report`, never up (in Node 20 an unhandled rejection ends the process).
 */
export function contain(callback: () => unknown, report: (error: unknown) => void): void {
	try {
		const result = callback();
		if (result instanceof Promise) result.catch(report);
	} catch (error) {
		report(error);
	}
}

/** Logs a failure that no route's `onError` takes (none was set, it threw, or no connection is concerned). */
export function logFailure(failure: unknown): void {
	console.error('[runesocket/server]', errorFrom(failure));
}
