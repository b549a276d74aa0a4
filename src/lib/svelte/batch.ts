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

/** The stages of a flush, in the order they run. */
const DELIVER = 0;
const PUBLISH = 1;

/** A flush is not running: whatever is added waits for the next one. */
const IDLE = Infinity;

/**
 * Work waiting for the next flush, in two stages: deliveries (messages handed to the feeds), then
 * publishes (the feeds' reactive updates). Each function runs once per flush however often it was
 * added, so N messages between two frames cost one reactive update per feed; and what a delivery
 * hands on is published in the same flush, not one frame later.
 */
export class Batch {
	#schedule: Schedule;
	#stages = [new Set<() => void>(), new Set<() => void>()];
	/** The stage the running flush is at; IDLE between flushes. */
	#running = IDLE;
	/** The functions of the stage being run: clear() empties them too, so none runs after it. */
	#due: Set<() => void> | undefined;
	#scheduled = false;
	/** Cancels the flush that is waiting, when its schedule said how. */
	#cancel: (() => void) | void = undefined;

	constructor(schedule: Schedule = nextFrame) {
		this.#schedule = schedule;
	}

	/** Runs `publish` at the next flush, after its deliveries; in this one when it is still delivering. */
	add(publish: () => void): void {
		this.#add(PUBLISH, publish);
	}

	/** Runs `delivery` at the next flush, before its publishes, scheduling one if none is waiting. */
	deliver(delivery: () => void): void {
		this.#add(DELIVER, delivery);
	}

	/** Forgets every waiting function and cancels the waiting flush, so nothing outlives the owner. */
	clear(): void {
		for (const stage of this.#stages) stage.clear();
		// Cleared during a flush, the flush ends: what is added since waits for a flush of its own.
		this.#due?.clear();
		this.#due = undefined;
		this.#running = IDLE;
		this.#scheduled = false;
		this.#cancel?.();
		this.#cancel = undefined;
	}

	#add(stage: number, work: () => void): void {
		this.#stages[stage].add(work);
		// A stage the running flush has yet to reach runs it; anything else needs a flush of its own.
		// Added before scheduling, so a schedule that flushes at once (no batching) still runs it.
		if (this.#scheduled || stage > this.#running) return;
		this.#scheduled = true;
		this.#cancel = this.#schedule(() => this.#flush());
	}

	#flush(): void {
		this.#scheduled = false;
		this.#cancel = undefined;
		for (let stage = DELIVER; stage <= PUBLISH; stage++) {
			// Swapped first: what a stage adds to itself (or to an earlier stage) lands in the next
			// flush, so a flush always ends.
			const due = (this.#due = this.#stages[stage]);
			this.#stages[stage] = new Set();
			this.#running = stage;
			for (const work of due) work();
			if (this.#due != due) return; // cleared
		}
		this.#running = IDLE;
		this.#due = undefined;
	}
}
