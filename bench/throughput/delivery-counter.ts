import { nowMicros, type TickData } from './messages.js';

/**
 * Counts one client's deliveries of one run: which sequence numbers arrived (so losses and duplicates
 * are exact, per client), arrivals out of order, and a latency sample per delivery. A tick published
 * before the run was armed (a straggler of an earlier run) or with a sequence number the run does
 * not have is counted as stray, not as a delivery.
 *
 * @example
 * const counter = new DeliveryCounter(1000, latencies, nowMicros());
 * counter.receive(data); // for every tick the client gets
 * counter.lost; // after the run
 */
export class DeliveryCounter {
	readonly expected: number;
	received = 0;
	duplicated = 0;
	outOfOrder = 0;
	stray = 0;
	lastReceivedAt = 0;
	readonly #seen: Uint8Array;
	#highestSeq = -1;
	readonly #latencies: number[];
	readonly #armedAt: number;

	constructor(expected: number, latencies: number[], armedAt: number) {
		this.expected = expected;
		this.#seen = new Uint8Array(expected);
		this.#latencies = latencies;
		this.#armedAt = armedAt;
	}

	receive(data: TickData): void {
		if (data.t < this.#armedAt || !(data.seq >= 0 && data.seq < this.expected)) {
			this.stray++;
			return;
		}
		const now = nowMicros();
		this.lastReceivedAt = now;
		this.#latencies.push(now - data.t);
		if (data.seq < this.#highestSeq) this.outOfOrder++;
		this.#highestSeq = Math.max(this.#highestSeq, data.seq);
		if (this.#seen[data.seq]) {
			this.duplicated++;
			return;
		}
		this.#seen[data.seq] = 1;
		this.received++;
	}

	get complete(): boolean {
		return this.received == this.expected;
	}

	get lost(): number {
		return this.expected - this.received;
	}

	/** The sequence numbers that never arrived, as ranges (`"12-40, 97"`), at most `limit` of them. */
	missingRanges(limit: number): string {
		const ranges: string[] = [];
		for (let seq = 0; seq < this.expected && ranges.length < limit; seq++) {
			if (this.#seen[seq]) continue;
			const first = seq;
			while (seq + 1 < this.expected && !this.#seen[seq + 1]) seq++;
			ranges.push(first == seq ? `${first}` : `${first}-${seq}`);
		}
		return ranges.join(', ');
	}
}
