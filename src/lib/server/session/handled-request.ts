import { ERROR_MESSAGE, REPLY_MESSAGE } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { CALLBACK_TIMEOUT_MS } from '../callbacks.js';
import { shownName } from './client-input.js';
import type { Connection } from '../connection.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { Reply } from './reply.js';

/**
 * Where a keyed request's first real answer goes (exactly-once requests): the key, which handlers
 * read as `reply.key`, and `keep`, which keeps the answer for the key's repeats. It is called for
 * every real answer (a handler's, `invalid_data`, `internal_error`), also one that comes after
 * `no_reply` or once the connection is gone; only the first is kept.
 */
export interface AnswerKeeper {
	readonly key: string;
	keep(name: string, data: unknown): void;
}

/**
 * Where a handled request counts and reports a handler's mistakes.
 */
export interface HandledRequestContext {
	readonly metrics: ServerMetrics;
	/** A handler's mistake: a late or second answer, no answer at all. */
	report(error: Error): void;
	/** A keyed request's: where its first real answer is kept. */
	readonly keeper?: AnswerKeeper;
}

/**
 * Where a request's answer stands (one value, each transition in one method):
 * - `open`: not answered yet.
 * - `answered`: answered, by its handlers, the server (`invalid_data`, `internal_error`) or its key
 *   (an earlier attempt's answer, `unavailable`): whatever answers later is dropped.
 * - `expired`: no handler answered in time, so the server answered `no_reply`: a handler's answer
 *   after it is dropped and reported (the client never learns what the handler did), and kept for
 *   the key, whose repeats get it.
 * - `lapsed`: the deadline passed with nothing sent (the socket is gone, or the application
 *   answered through `connection.send`): a later answer is only kept for the key.
 */
type AnswerPhase = 'open' | 'answered' | 'expired' | 'lapsed';

/**
 * One message handed to application handlers (typed handlers or the route's `onMessage`), and the
 * promise PROTOCOL.md makes for it when it is a request: exactly one answer. The first answer wins,
 * from the handlers or from the server (`invalid_data`, `internal_error`); when none came within
 * `CALLBACK_TIMEOUT_MS` of the handlers starting the server answers `no_reply`. A close the server
 * decides meanwhile waits for that answer (see `Connection.close`). A keyed request's deadline
 * starts once its key is claimed (`start`); meanwhile its key may answer it (`answerForKey`).
 */
export class HandledRequest {
	readonly reply: Reply;
	#connection: Connection<unknown>;
	#name: string;
	#id: number | undefined;
	#context: HandledRequestContext;
	#phase: AnswerPhase = 'open';
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
		if (id !== undefined) connection.openRequest(id);
		if (!context.keeper) this.start();
		const reply = (data?: unknown) => this.#answerForHandler(REPLY_MESSAGE, data ?? null);
		reply.error = (code: string, message: string) =>
			this.#answerForHandler(ERROR_MESSAGE, { code, message });
		reply.key = context.keeper?.key;
		Object.defineProperty(reply, 'sent', { get: () => this.#phase != 'open' });
		this.reply = reply as Reply;
	}

	/** The handlers start: a request gets `CALLBACK_TIMEOUT_MS` to be answered from now. */
	start(): void {
		if (this.#id === undefined || this.#deadline) return;
		this.#deadline = setTimeout(() => this.#expire(), CALLBACK_TIMEOUT_MS);
		this.#deadline.unref();
	}

	/**
	 * Refuses the message with a protocol error (`invalid_data`): the answer when it is a request,
	 * else an `error` without an id, as for any refused frame.
	 */
	refuse(code: string, message: string): void {
		if (this.#id === undefined) return void this.#connection.fail(code, message);
		this.#answerOnce(ERROR_MESSAGE, { code, message });
	}

	/** A schema or handler failed (already reported): `internal_error`, unless it was answered. */
	fail(): void {
		this.#answerOnce(ERROR_MESSAGE, { code: ErrorCode.Internal, message: 'Internal error' });
	}

	/**
	 * An answer its key gives, no handler having run: an earlier attempt's answer, `unavailable`, or
	 * the `no_reply` of a repeat that waited in vain. Never kept.
	 */
	answerForKey(name: string, data: unknown): void {
		if (this.#phase != 'open' || this.#id === undefined) return;
		this.#send(name, data);
	}

	/**
	 * A handler's answer: the request's, unless it had one. A second answer is dropped (handlers of
	 * a name share their `reply`: the first wins); one after the deadline's `no_reply` is reported
	 * too, since the client never learns what the handler did.
	 */
	#answerForHandler(name: string, data: unknown): void {
		if (this.#id === undefined) return;
		const expired = this.#phase == 'expired';
		this.#answerOnce(name, data);
		if (!expired) return;
		const kept = this.#context.keeper ? ' (kept for its key: a repeat gets it)' : '';
		this.#context.report(
			new Error(
				`Request ${this.#id} ("${this.#name}") was answered no_reply after ${CALLBACK_TIMEOUT_MS} ms: its later ${name} was dropped${kept}`
			)
		);
	}

	/**
	 * A real answer (a handler's or the server's): sent when the request is open, and handed to the
	 * keeper while no real answer was (after `no_reply` too, or with the socket gone).
	 */
	#answerOnce(name: string, data: unknown): void {
		if (this.#id === undefined || this.#phase == 'answered') return;
		if (this.#phase == 'open') this.#send(name, data);
		this.#context.keeper?.keep(name, data);
	}

	/**
	 * Answers the open request. Marked answered only once the answer is serialised: one that cannot
	 * be throws (into the handler, whose failure is then answered `internal_error`) instead of
	 * leaving the request unanswered.
	 */
	#send(name: string, data: unknown): boolean {
		const queued = this.#connection.answer(name, data, this.#id!);
		this.#phase = 'answered';
		clearTimeout(this.#deadline);
		return queued;
	}

	/** No handler answered in time: the client is told, and so is the application. */
	#expire(): void {
		if (this.#phase != 'open') return;
		const answer = {
			code: ErrorCode.NoReply,
			message: `No answer within ${CALLBACK_TIMEOUT_MS} ms`
		};
		// Not queued: answered meanwhile by a `reply` the application sent itself, or the socket is gone.
		this.#phase = this.#send(ERROR_MESSAGE, answer) ? 'expired' : 'lapsed';
		if (this.#phase == 'lapsed') return;
		this.#context.metrics.requestsUnanswered++;
		this.#context.report(
			new Error(
				`No handler answered request ${this.#id} ("${this.#name}") within ${CALLBACK_TIMEOUT_MS} ms: answered no_reply`
			)
		);
	}
}
