import { errorFrom } from '../engine/errors.js';

/**
 * A room whose channel Redis refused (an ACL) is not asked for again before this long; each next
 * refusal in a row waits twice as long, up to the max: joins meanwhile are refused at once, so a
 * room that can never be subscribed costs Redis one SUBSCRIBE per delay, whoever asks.
 */
const REFUSED_RETRY_FIRST_MS = 1_000;
const REFUSED_RETRY_MAX_MS = 30_000;
/** Refused rooms remembered at most (the oldest go first): room names may come from clients. */
const MAX_REMEMBERED_REFUSALS = 1_000;

/** A room Redis refused: why, how many times in a row, and when it may be asked for again. */
interface Refusal {
	readonly error: Error;
	readonly refusals: number;
	readonly retryAt: number;
}

/**
 * The channels Redis refused lately, each with the error that says so and the time it may be asked
 * for again (a delay that doubles with each refusal in a row).
 */
export class RefusedChannels {
	/** Channel → Redis' refusal of it, oldest first. */
	readonly #refusals = new Map<string, Refusal>();

	/** Remembers that Redis refused `room`'s channel with `cause`; returns the error that says so. */
	refuse(room: string, channel: string, cause: unknown): Error {
		const refusals = (this.#refusals.get(channel)?.refusals ?? 0) + 1;
		const delay = Math.min(REFUSED_RETRY_FIRST_MS * 2 ** (refusals - 1), REFUSED_RETRY_MAX_MS);
		const error = new Error(
			`runesocket/redis: cannot subscribe "${room}": Redis refused its channel (${errorFrom(cause).message}); asked again after ${delay} ms`,
			{ cause }
		);
		this.#refusals.delete(channel);
		this.#refusals.set(channel, { error, refusals, retryAt: Date.now() + delay });
		if (this.#refusals.size > MAX_REMEMBERED_REFUSALS) {
			this.#refusals.delete(this.#refusals.keys().next().value!);
		}
		return error;
	}

	/** The error of a refusal of `channel` whose delay has not passed yet, if any. */
	current(channel: string): Error | undefined {
		const refusal = this.#refusals.get(channel);
		return refusal && Date.now() < refusal.retryAt ? refusal.error : undefined;
	}

	/** Redis took the channel: its next refusal starts from the first delay again. */
	forget(channel: string): void {
		this.#refusals.delete(channel);
	}

	clear(): void {
		this.#refusals.clear();
	}
}
