/**
 * Limits on how fast one connection may send: a token bucket of `burst` frames refilled at
 * `messagesPerSecond`. Every inbound frame takes a token (heartbeats and binary frames too). A
 * connection that has `closeAfter` frames refused since its bucket was last full is closed: a flood
 * that lets a few frames through between refusals is still a flood.
 */
export interface RateLimit {
	/** Sustained rate. Default 50. */
	messagesPerSecond?: number;
	/** Messages allowed at once on top of the rate. Default 100. */
	burst?: number;
	/** Refused frames (since the bucket was last full) before the connection is closed with 1008. Default 50. */
	closeAfter?: number;
}

/** What the limiter says about one message. */
export type RateVerdict = 'accept' | 'refuse' | 'close';

/**
 * One connection's token bucket.
 */
export class RateLimiter {
	#rate: number;
	#burst: number;
	#closeAfter: number;
	#tokens: number;
	#refilledAt = 0;
	/** Frames refused since the bucket was last full. */
	#refused = 0;

	constructor({ messagesPerSecond = 50, burst = 100, closeAfter = 50 }: RateLimit = {}) {
		this.#rate = messagesPerSecond;
		this.#burst = burst;
		this.#closeAfter = closeAfter;
		this.#tokens = burst;
	}

	/** Takes a token for one frame at time `now` (ms). */
	take(now: number): RateVerdict {
		this.#tokens = Math.min(
			this.#burst,
			this.#tokens + ((now - this.#refilledAt) / 1000) * this.#rate
		);
		this.#refilledAt = now;
		// Only a client that went quiet long enough to refill the bucket is forgiven its refusals.
		if (this.#tokens == this.#burst) this.#refused = 0;
		if (this.#tokens >= 1) {
			this.#tokens -= 1;
			return 'accept';
		}
		return ++this.#refused >= this.#closeAfter ? 'close' : 'refuse';
	}
}
