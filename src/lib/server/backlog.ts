import type { ServerMetrics } from './metrics/metrics.js';
import type { PreparedMessage } from './transport/prepared-message.js';
import type { Transport } from './transport/transport.js';

const pending = new Set<Backlog>();
let flushScheduled = false;

function flushAll(): void {
	flushScheduled = false;
	for (const backlog of pending) backlog.flush();
	pending.clear();
}

/** Writes everything a turn queued at the turn's end: the transport takes what it is given. */
const FLOWING = 0;
/**
 * The transport refused a write (its peer reads slower than the server sends): messages wait in the
 * backlog until it drains, where a newer message supersedes a queued one with its conflation id.
 */
const BEHIND = 1;
type Phase = typeof FLOWING | typeof BEHIND;

/**
 * Bytes written per drain while behind. More than the socket's high-water mark (16 KiB), so every
 * batch but the last ends in backpressure and the next drain; small, so what waits stays in the
 * backlog, where it can still be superseded, rather than in the socket's buffer, where it cannot.
 */
const DRAIN_BATCH_BYTES = 64 * 1024;

/**
 * Empty slots (written or superseded) a queue may hold before it is compacted, once they are at least
 * half of it: a reader that stays behind for hours must not grow an array by a slot per message.
 */
const COMPACT_AFTER = 1_024;

/**
 * A connection's backlog: what waits to be sent to it. While its peer keeps up (`FLOWING`), every
 * message queued in one event-loop turn goes out at the turn's end in a single corked write (one
 * syscall instead of one per message). Once the transport refuses a write, the backlog is `BEHIND`:
 * messages wait here, and one with a conflation id (a room message with a conflation key) drops the
 * queued message it supersedes — never the newest, never one without a key — and takes its place at
 * the end, so the room's stream stays in offset order. Each drain writes the next batch; an empty
 * queue flows again.
 */
export class Backlog {
	#transport: Transport;
	#metrics: ServerMetrics;
	#routePath: string;
	#phase: Phase = FLOWING;
	/**
	 * Made by the first push of a turn: most connections are idle most turns, and keep no array.
	 * Slots before `#head` were written; a superseded message leaves an empty slot.
	 */
	#queue: (PreparedMessage | undefined)[] | undefined;
	/** The next slot to write. */
	#head = 0;
	#queuedBytes = 0;
	/** Messages queued and not written nor superseded: the queue's slots that are not empty. */
	#live = 0;
	/** While behind: the slot of the newest queued message of each conflation id. */
	#latest: Map<string, number> | undefined;

	constructor(transport: Transport, metrics: ServerMetrics, routePath: string) {
		this.#transport = transport;
		this.#metrics = metrics;
		this.#routePath = routePath;
	}

	/** Bytes queued here and not yet handed to the kernel, including what the transport still buffers. */
	get bufferedBytes(): number {
		return this.#queuedBytes + this.#transport.bufferedAmount;
	}

	push(message: PreparedMessage): void {
		const queue = (this.#queue ??= []);
		if (this.#latest && message.conflationId !== undefined) {
			this.#supersede(queue, message.conflationId, queue.length);
		}
		queue.push(message);
		this.#live++;
		this.#queuedBytes += message.queuedCost;
		if (this.#phase == BEHIND) return this.#compactIfSparse();
		pending.add(this);
		if (!flushScheduled) {
			flushScheduled = true;
			setImmediate(flushAll);
		}
	}

	/**
	 * Sends what the turn queued; while behind, nothing until the transport drains. A backlog whose
	 * transport refuses writes from now on falls behind here.
	 */
	flush(): void {
		if (!this.#queue || this.#phase == BEHIND) return;
		if (!this.#transport.writable) return this.clear();
		if (this.#transport.backpressured) return this.#fallBehind();
		this.#write(Infinity);
	}

	/** Sends everything queued now, behind or not: a close frame follows. */
	writeAll(): void {
		if (!this.#queue) return;
		if (!this.#transport.writable) return this.clear();
		this.#write(Infinity);
	}

	/** Forgets what is queued (the connection is being dropped). */
	clear(): void {
		this.#emptied();
		pending.delete(this);
	}

	#fallBehind(): void {
		this.#phase = BEHIND;
		this.#indexQueue();
		this.#transport.onceDrained(() => this.#drained());
	}

	/** The transport took what it had: the next batch goes, or the backlog flows again when none is left. */
	#drained(): void {
		if (this.#phase != BEHIND) return;
		if (!this.#transport.writable) return this.clear();
		while (this.#queue && !this.#transport.backpressured) this.#write(DRAIN_BATCH_BYTES);
		if (this.#queue) this.#transport.onceDrained(() => this.#drained());
	}

	/** Drops the queued message `id` names, if it is still queued; `slot` holds its newer one now. */
	#supersede(queue: (PreparedMessage | undefined)[], id: string, slot: number): void {
		const latest = this.#latest!;
		const previous = latest.get(id);
		latest.set(id, slot);
		if (previous === undefined || previous < this.#head) return;
		const superseded = queue[previous];
		if (superseded) this.#dropSlot(queue, previous);
	}

	/** Writes queued messages in order until `limit` bytes went or none is left, in one corked write. */
	#write(limit: number): void {
		const queue = this.#queue!;
		const transport = this.#transport;
		const metrics = this.#metrics;
		const corked = queue.length - this.#head > 1;
		if (corked) transport.cork();
		let written = 0;
		let head = this.#head;
		while (head < queue.length && written < limit) {
			const message = queue[head];
			queue[head++] = undefined;
			if (!message) continue;
			written += message.frameLength;
			this.#live--;
			this.#queuedBytes -= message.queuedCost;
			metrics.messagesSent++;
			transport.send(message);
		}
		metrics.sentBytes += written;
		if (corked) transport.uncork();
		this.#head = head;
		if (head == queue.length) this.#emptied();
		else this.#compactIfSparse();
	}

	/** Nothing is left to write (or to keep): the next push starts a new queue, and the backlog flows. */
	#emptied(): void {
		this.#queue = undefined;
		this.#head = 0;
		this.#queuedBytes = 0;
		this.#live = 0;
		this.#latest = undefined;
		this.#phase = FLOWING;
	}

	/** Drops the empty slots once they are many and at least half the queue. */
	#compactIfSparse(): void {
		const queue = this.#queue!;
		if (queue.length < COMPACT_AFTER || queue.length < 2 * this.#live) return;
		this.#queue = queue.filter((message) => message !== undefined);
		this.#head = 0;
		this.#indexQueue();
	}

	/** Records the slot of every queued message with a conflation id: what the next one supersedes. */
	#indexQueue(): void {
		const queue = this.#queue!;
		const latest = new Map<string, number>();
		for (let slot = this.#head; slot < queue.length; slot++) {
			const id = queue[slot]?.conflationId;
			if (id !== undefined) {
				const previous = latest.get(id);
				latest.set(id, slot);
				if (previous !== undefined) this.#dropSlot(queue, previous);
			}
		}
		this.#latest = latest;
	}

	/** Empties a slot whose message a newer one in the queue supersedes. */
	#dropSlot(queue: (PreparedMessage | undefined)[], slot: number): void {
		const superseded = queue[slot]!;
		queue[slot] = undefined;
		this.#live--;
		this.#queuedBytes -= superseded.queuedCost;
		this.#metrics.messagesConflated(this.#routePath, 1);
	}
}
