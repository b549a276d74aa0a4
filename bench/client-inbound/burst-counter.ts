// Counts one client's deliveries of a burst and measures this process's CPU time from the first to
// the last one handled: the same bookkeeping for every contender, called from its message handler.

/**
 * What one contender did with one burst.
 *
 * @example
 * const result: BurstResult = { cpuMicros: 21_000, wallMs: 30, received: 4000, lost: 0, duplicated: 0, outOfOrder: 0 };
 */
export interface BurstResult {
	/** User + system CPU time of this process between the first and the last delivery handled. */
	cpuMicros: number;
	wallMs: number;
	received: number;
	lost: number;
	duplicated: number;
	outOfOrder: number;
}

const cpuMicros = (): number => {
	const { user, system } = process.cpuUsage();
	return user + system;
};

/**
 * Expects deliveries numbered 0 … count − 1, in order; resolves when the last arrives or the time is
 * up (then what was missing counts as lost).
 *
 * @example
 * const burst = counter.expect(4000, 30_000);
 * server.send({ type: 'burst', room, size: 'small', count: 4000 });
 * const result = await burst;
 */
export class BurstCounter {
	#count = 0;
	#next = 0;
	// One byte per expected delivery: cheaper per delivery than a Set, a cost every contender pays.
	#seen = new Uint8Array(0);
	#received = 0;
	#duplicated = 0;
	#outOfOrder = 0;
	#cpuStart = 0;
	#wallStart = 0;
	#finish?: (result: BurstResult) => void;

	/** Starts counting a burst of `count`; only one burst at a time. */
	expect(count: number, timeoutMs: number): Promise<BurstResult> {
		if (this.#finish) throw new Error('A burst is being counted already');
		this.#count = count;
		this.#next = 0;
		this.#seen = new Uint8Array(count);
		this.#received = 0;
		this.#duplicated = this.#outOfOrder = 0;
		return new Promise((resolve) => {
			const timer = setTimeout(() => this.#end(cpuMicros(), performance.now()), timeoutMs);
			this.#finish = (result) => {
				clearTimeout(timer);
				this.#finish = undefined;
				resolve(result);
			};
		});
	}

	/** One delivery handled, by its sequence number. */
	record(seq: number): void {
		if (!this.#finish) return;
		if (this.#received == 0) {
			this.#cpuStart = cpuMicros();
			this.#wallStart = performance.now();
		}
		// Not a number of this burst (a stray from an earlier one): wrong, whatever it is.
		if (!(seq >= 0 && seq < this.#count)) this.#outOfOrder++;
		else if (this.#seen[seq]) this.#duplicated++;
		else {
			if (seq != this.#next) this.#outOfOrder++;
			this.#seen[seq] = 1;
			this.#received++;
		}
		this.#next = seq + 1;
		if (this.#received == this.#count) this.#end(cpuMicros(), performance.now());
	}

	#end(cpuEnd: number, wallEnd: number): void {
		const received = this.#received;
		this.#finish?.({
			cpuMicros: received ? cpuEnd - this.#cpuStart : 0,
			wallMs: received ? wallEnd - this.#wallStart : 0,
			received,
			lost: this.#count - received,
			duplicated: this.#duplicated,
			outOfOrder: this.#outOfOrder
		});
	}
}
