/**
 * How a typed handler (or a route's `onMessage`) answers a request: call it with the reply data, or
 * `reply.error(code, message)`. A request is answered once: every handler of the message shares
 * one `reply`, and whatever answers after the first (another handler, a second call) is dropped.
 * A request no handler answered within 5 s is answered `no_reply` (and reported to `onError`); an
 * answer after that is dropped and reported too. For a message that is not a request (no `id`),
 * answering does nothing.
 *
 * @example
 * ```ts
 * sockets.on(CreateIncident, async (connection, data, reply) => reply(await incidents.create(data)));
 * ```
 */
export interface Reply {
	(data?: unknown): void;
	error(code: string, message: string): void;
	/** Whether the request was answered (by a handler, or by the server for it). */
	readonly sent: boolean;
	/**
	 * The key the client put on the request (exactly-once requests), else undefined. The handlers
	 * run once per key and their answer is kept for its repeats; a handler that writes elsewhere
	 * can store the key with its write to make that write idempotent too (a key whose lease ran
	 * out runs again).
	 */
	readonly key?: string;
}
