import { ERROR_MESSAGE, REPLY_MESSAGE } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { CALLBACK_TIMEOUT_MS } from '../callbacks.js';
import { shownName } from './client-input.js';
import type { Connection } from '../connection.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { Reply } from './reply.js';

/**
 * Where a handled request counts and reports a handler's mistakes.
 */
export interface HandledRequestContext {
	readonly metrics: ServerMetrics;
	/** A handler's mistake: a late or second answer, no answer at all. */
	report(error: Error): void;
}

/**
 * One message handed to application handlers (typed handlers or the route's `onMessage`), and the
 * promise PROTOCOL.md makes for it when it is a request: exactly one answer. The first answer wins,
 * from the handlers or from the server (`invalid_data`, `internal_error`); when none came within
 * `CALLBACK_TIMEOUT_MS` the server answers `no_reply`. A close the server decides meanwhile waits
 * for that answer (see `Connection.close`).
 */
export class HandledRequest {
	readonly reply: Reply;
	#connection: Connection<unknown>;
	#name: string;
	#id: number | undefined;
	#context: HandledRequestContext;
	#answered = false;
	/** Whether the answer was the server's `no_reply`: a handler's answer after it is lost work. */
	#expired = false;
	#deadline: ReturnType<typeof setTimeout> | undefined;

	constructor(
		connection: Connection<unknown>,
		name: string,
		id: number | undefined,
		context: HandledRequestContext
	) {
		this.#connection = connection;
		this.#name = shownName(name);
		this.#id = id;
		this.#context = context;
		if (id !== undefined) {
			connection.openRequest(id);
			this.#deadline = setTimeout(() => this.#expire(), CALLBACK_TIMEOUT_MS);
			this.#deadline.unref();
		}
		const reply = (data?: unknown) => this.#answerForHandler(REPLY_MESSAGE, data ?? null);
		reply.error = (code: string, message: string) =>
			this.#answerForHandler(ERROR_MESSAGE, { code, message });
		Object.defineProperty(reply, 'sent', { get: () => this.#answered });
		this.reply = reply as Reply;
	}

	/**
	 * Refuses the message with a protocol error (`invalid_data`): the answer when it is a request,
	 * else an `error` without an id, as for any refused frame.
	 */
	refuse(code: string, message: string): void {
		if (this.#id === undefined) return void this.#connection.fail(code, message);
		this.#answer(ERROR_MESSAGE, { code, message });
	}

	/** A schema or handler failed (already reported): `internal_error`, unless it was answered. */
	fail(): void {
		this.#answer(ERROR_MESSAGE, { code: ErrorCode.Internal, message: 'Internal error' });
	}

	/**
	 * A handler's answer: the request's, unless it had one. A second answer is dropped (handlers of
	 * a name share their `reply`: the first wins); one after the deadline's `no_reply` is reported
	 * too, since the client never learns what the handler did.
	 */
	#answerForHandler(name: string, data: unknown): void {
		if (this.#id === undefined) return;
		if (!this.#answered) return void this.#answer(name, data);
		if (!this.#expired) return;
		this.#context.report(
			new Error(
				`Request ${this.#id} ("${this.#name}") was answered no_reply after ${CALLBACK_TIMEOUT_MS} ms: its later ${name} was dropped`
			)
		);
	}

	/**
	 * Answers once. Marked answered only once the answer is serialised: one that cannot be throws
	 * (into the handler, whose failure is then answered `internal_error`) instead of leaving the
	 * request unanswered.
	 */
	#answer(name: string, data: unknown): boolean {
		if (this.#answered || this.#id === undefined) return false;
		const queued = this.#connection.answer(name, data, this.#id);
		this.#answered = true;
		clearTimeout(this.#deadline);
		return queued;
	}

	/** No handler answered in time: the client is told, and so is the application. */
	#expire(): void {
		const answer = {
			code: ErrorCode.NoReply,
			message: `No answer within ${CALLBACK_TIMEOUT_MS} ms`
		};
		// Not queued: answered meanwhile by a `reply` the application sent itself, or the socket is gone.
		if (!this.#answer(ERROR_MESSAGE, answer)) return;
		this.#expired = true;
		this.#context.metrics.requestsUnanswered++;
		this.#context.report(
			new Error(
				`No handler answered request ${this.#id} ("${this.#name}") within ${CALLBACK_TIMEOUT_MS} ms: answered no_reply`
			)
		);
	}
}
