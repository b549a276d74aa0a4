/**
 * A connection's heartbeat, from `heartbeat()`.
 */
export interface Heartbeat {
	/** Starts pinging; a non-positive interval turns the heartbeat off. */
	start(): void;
	/** Pings now and waits for any sign of life, unless a check is already running. */
	check(): void;
	/** Something arrived: the connection is alive. */
	alive(): void;
	stop(): void;
}

/**
 * Keeps one connection honest: pings every `interval` ms and calls `onTimeout` when nothing at all
 * arrives within `timeout` ms of a ping. Timers that fire far later than they were due (a laptop
 * that slept, a frozen tab) prove nothing about the connection, so a late deadline does not close
 * it: it starts a fresh liveness check instead (a new ping with a new deadline). Closures rather
 * than a class: SocketClient's bundle has no bytes for `this.#` on every access (bench/bundle.ts).
 */
export function heartbeat(
	interval: number,
	timeout: number,
	ping: () => void,
	onTimeout: () => void
): Heartbeat {
	let timer: ReturnType<typeof setTimeout> | undefined;
	let awaitingPong = false;
	const schedule = (delay: number, action: (late: boolean) => void) => {
		clearTimeout(timer);
		if (interval <= 0) return;
		const dueAt = Date.now() + delay;
		timer = setTimeout(() => action(Date.now() - dueAt > timeout), delay);
	};
	const self: Heartbeat = {
		start: () => schedule(interval, self.check),
		check() {
			if (awaitingPong || interval <= 0) return;
			awaitingPong = true;
			schedule(timeout, (late) => {
				awaitingPong = false;
				if (late) self.check();
				else onTimeout();
			});
			// After the deadline exists: a transport that answers inside send() must find it to cancel.
			ping();
		},
		alive() {
			if (!awaitingPong) return;
			awaitingPong = false;
			self.start();
		},
		stop() {
			clearTimeout(timer);
			awaitingPong = false;
		}
	};
	return self;
}
