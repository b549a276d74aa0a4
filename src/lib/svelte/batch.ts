/**
 * How a `LiveSocket` batches its updates: called with a `flush` function whenever updates are
 * waiting, it decides when `flush` runs. Each call expects exactly one `flush()` later, unless the
 * function it may return is called: that cancels the flush (the LiveSocket was disposed).
 */
export type Schedule = (flush: () => void) => void | (() => void);

/**
 * The next animation frame where the window has one, else the next microtask (SSR, Node, workers).
 * A frame bounds updates to the display rate, and a background tab, which gets no frames, does
 * no reactive work at all until it is shown again.
 */
export const nextFrame: Schedule = (flush) => {
	if (typeof window != 'undefined' && typeof window.requestAnimationFrame == 'function') {
		const frame = window.requestAnimationFrame(() => flush());
		return () => window.cancelAnimationFrame(frame);
	}
	queueMicrotask(flush);
};

/**
 * Publish functions waiting for the next flush. Each runs once per flush however often it was
 * added, so N messages between two frames cost one reactive update per feed.
 */
export class Batch {
	#schedule: Schedule;
	#due = new Set<() => void>();
	/** Cancels the flush that is waiting, when its schedule said how. */
	#cancel: (() => void) | void = undefined;

	constructor(schedule: Schedule = nextFrame) {
		this.#schedule = schedule;
	}

	/** Runs `publish` at the next flush, scheduling one if none is waiting. */
	add(publish: () => void): void {
		const idle = this.#due.size == 0;
		this.#due.add(publish);
		// Added before scheduling, so a schedule that flushes at once (no batching) still publishes.
		if (idle) this.#cancel = this.#schedule(() => this.#flush());
	}

	/** Forgets every waiting publish and cancels the waiting flush, so nothing outlives the owner. */
	clear(): void {
		this.#due = new Set();
		this.#cancel?.();
		this.#cancel = undefined;
	}

	#flush(): void {
		this.#cancel = undefined;
		// Swapped first: a publish that queues more work lands in the next flush, not this loop.
		const due = this.#due;
		this.#due = new Set();
		for (const publish of due) publish();
	}
}
