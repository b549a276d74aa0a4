/**
 * Keeps one connection honest: pings every `interval` ms and calls `onTimeout` when nothing at all
 * arrives within `timeout` ms of a ping. Timers that fire far later than they were due (a laptop
 * that slept, a frozen tab) prove nothing about the connection, so a late deadline does not close
 * it: it starts a fresh liveness check instead (a new ping with a new deadline).
 */
export class HeartbeatTimer {
	#interval: number;
	#timeout: number;
	#ping: () => void;
	#onTimeout: () => void;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#awaitingPong = false;

	constructor(interval: number, timeout: number, ping: () => void, onTimeout: () => void) {
		this.#interval = interval;
		this.#timeout = timeout;
		this.#ping = ping;
		this.#onTimeout = onTimeout;
	}

	/** Starts pinging; a non-positive interval turns the heartbeat off. */
	start(): void {
		this.#schedule(this.#interval, () => this.check());
	}

	/** Pings now and waits for any sign of life, unless a check is already running. */
	check(): void {
		if (this.#awaitingPong || this.#interval <= 0) return;
		this.#awaitingPong = true;
		this.#schedule(this.#timeout, (late) => {
			this.#awaitingPong = false;
			if (late) this.check();
			else this.#onTimeout();
		});
		// After the deadline exists: a transport that answers inside send() must find it to cancel.
		this.#ping();
	}

	/** Something arrived: the connection is alive. */
	alive(): void {
		if (!this.#awaitingPong) return;
		this.#awaitingPong = false;
		this.start();
	}

	stop(): void {
		clearTimeout(this.#timer);
		this.#awaitingPong = false;
	}

	#schedule(delay: number, action: (late: boolean) => void): void {
		clearTimeout(this.#timer);
		if (this.#interval <= 0) return;
		const dueAt = Date.now() + delay;
		this.#timer = setTimeout(() => action(Date.now() - dueAt > this.#timeout), delay);
	}
}
