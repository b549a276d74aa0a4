/**
 * How far behind the page is: how much longer than usual messages take from their `sentAt` stamp
 * to this page's handler. When the page cannot keep up, messages wait in the browser's queue and
 * this grows; the feeds still show only the newest state once per frame, so it is the delay that
 * tells the reader, not a frozen page. The smallest delay ever seen counts as "usual": it absorbs
 * a constant offset between the server's clock and this one.
 */
export class Lag {
	/** Whole seconds behind the usual delay, as shown: a $state changed at most once a second. */
	#seconds = $state(0);
	#observedAt = $state(0);
	#usual = Infinity;

	/** Called with every message's send time (ms since the epoch, the server's clock). */
	observe(sentAt: number): void {
		const now = Date.now();
		const delay = now - sentAt;
		this.#usual = Math.min(this.#usual, delay);
		this.#seconds = Math.floor((delay - this.#usual) / 1000);
		// Rounded to seconds too: setting the same value again is no update at all.
		this.#observedAt = Math.floor(now / 1000) * 1000;
	}

	/**
	 * Seconds behind at `now`, or 0: while messages keep coming; an idle feed is not behind, so
	 * nothing is said once none came for a few seconds.
	 */
	behind(now: number): number {
		return now - this.#observedAt < 5_000 ? this.#seconds : 0;
	}
}
