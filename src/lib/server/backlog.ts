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
 * The peer reads slower than the server sends — the transport refused a write, or a client that
 * reports what it read is a window of frames behind — so messages wait in the backlog until it can
 * take more, and a newer message supersedes a queued one with its conflation id.
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
 * How far ahead of a reporting client's reads the server writes, as time at the rate it reads: kernel
 * buffers toward a page whose CPU cannot keep up hold megabytes (seconds of stale values) before a
 * write is ever refused, and this keeps what is stale out of them, in the backlog, where it is
 * conflated. A reader that keeps up waits for a report only in a burst larger than that.
 */
const READ_AHEAD_MS = 500;
/**
 * The fewest frames the window allows: twice what a client reads between two reports (every 256
 * frames), so the frames in flight always bring the next report. Also the window before the client's
 * reading rate is known.
 */
const MIN_READ_WINDOW = 512;
/** The most frames the window allows, whatever rate a client reads at. */
const MAX_READ_WINDOW = 65_536;
/** Below this share of its window unread, a client held back by the window has read nearly all of it. */
const DRAINED_FRACTION = 0.25;
/** How much a new measure of a client's reading rate counts against what was known. */
const READ_RATE_WEIGHT = 0.5;

/**
 * Empty slots (written or superseded) a queue may hold before it is compacted, once they are at least
 * half of it: a reader that stays behind for hours must not grow an array by a slot per message.
 */
const COMPACT_AFTER = 1_024;

/**
 * A connection's backlog: what waits to be sent to it. While its peer keeps up (`FLOWING`), every
 * message queued in one event-loop turn goes out at the turn's end in a single corked write (one
 * syscall instead of one per message). Once the transport refuses a write, or a client that reports
 * what it read has a window of frames unread, the backlog is `BEHIND`: messages wait here, and one
 * with a conflation id (a room message with a conflation key) drops the queued message it supersedes
 * — never the newest, never one without a key — and takes its place at the end, so the room's stream
 * stays in offset order. Each drain or read report writes the next batch; an empty queue flows again.
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
	/** Frames written to the transport. */
	#written = 0;
	/** Frames the client reported it read; undefined until its first report (then no window applies). */
	#read: number | undefined;
	/** When the last read report came (ms). */
	#reportedAt = 0;
	/** Frames the client may have unread: what it reads in `READ_AHEAD_MS`, as its reports show. */
	#readWindow = MIN_READ_WINDOW;
	/** A `drain` listener is registered. */
	#awaitingDrain = false;

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
	 * Sends what the turn queued; while behind, nothing until the transport drains or the client reads
	 * more. A backlog that cannot write all of it falls behind here.
	 */
	flush(): void {
		if (!this.#queue || this.#phase == BEHIND) return;
		if (!this.#transport.writable) return this.clear();
		if (!this.#canWrite()) return this.#fallBehind();
		this.#write(Infinity, this.#writableFrames());
		if (this.#queue) this.#fallBehind();
	}

	/**
	 * The client has read `count` frames of this connection (its read report): from now on it is sent
	 * at most a window ahead of what it read, what it reads in `READ_AHEAD_MS` at the rate its reports
	 * show. A count beyond what was written is taken as all of it; an older one changes nothing.
	 */
	reportRead(count: number): void {
		const read = Math.min(count, this.#written);
		const previous = this.#read;
		if (previous !== undefined && read <= previous) return;
		const now = performance.now();
		if (previous !== undefined) {
			this.#sizeReadWindow(read - previous, now - this.#reportedAt, this.#written - read);
		}
		this.#read = read;
		this.#reportedAt = now;
		this.#resume();
	}

	/**
	 * Sizes the read window from `frames` read in `elapsed` ms, `unread` frames still on their way. A
	 * client held back by the window that read nearly all it was allowed is faster than the window
	 * lets it show: the window doubles, as a TCP slow start does, rather than creep up from its
	 * minimum through reports 100 ms apart (a fast reader in a flood was conflated for its first
	 * second). Otherwise the rate it read at, smoothed with what was known, sizes it.
	 */
	#sizeReadWindow(frames: number, elapsed: number, unread: number): void {
		const held = this.#phase == BEHIND && !this.#transport.backpressured;
		const window =
			held && unread < this.#readWindow * DRAINED_FRACTION
				? 2 * this.#readWindow
				: READ_RATE_WEIGHT * (frames / Math.max(elapsed, 1)) * READ_AHEAD_MS +
					(1 - READ_RATE_WEIGHT) * this.#readWindow;
		this.#readWindow = Math.min(Math.max(window, MIN_READ_WINDOW), MAX_READ_WINDOW);
	}

	/**
	 * Sends everything queued now, whatever the transport or the read window say: a close frame
	 * follows, or the connection is judged by what the kernel does not take.
	 */
	writeAll(): void {
		if (!this.#queue) return;
		if (!this.#transport.writable) return this.clear();
		this.#write(Infinity, Infinity);
	}

	/** Forgets what is queued (the connection is being dropped). */
	clear(): void {
		this.#emptied();
		pending.delete(this);
	}

	/** Whether the transport takes more now, and the client's read window (if it reports) allows it. */
	#canWrite(): boolean {
		return !this.#transport.backpressured && this.#writableFrames() > 0;
	}

	/** Frames that may be written now as far as the client's read window goes. */
	#writableFrames(): number {
		const read = this.#read;
		return read === undefined ? Infinity : this.#readWindow - (this.#written - read);
	}

	#fallBehind(): void {
		this.#phase = BEHIND;
		this.#indexQueue();
		this.#waitForDrain();
	}

	/** Listens for the transport's drain, when it pushes back and no listener waits yet. */
	#waitForDrain(): void {
		if (this.#awaitingDrain || !this.#transport.backpressured) return;
		this.#awaitingDrain = true;
		this.#transport.onceDrained(() => {
			this.#awaitingDrain = false;
			this.#resume();
		});
	}

	/**
	 * The transport drained or the client read more: the next batches go while both allow, and the
	 * backlog flows again when none is left.
	 */
	#resume(): void {
		if (this.#phase != BEHIND) return;
		if (!this.#transport.writable) return this.clear();
		while (this.#queue && this.#canWrite()) this.#write(DRAIN_BATCH_BYTES, this.#writableFrames());
		if (this.#queue) this.#waitForDrain();
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

	/**
	 * Writes queued messages in order, in one corked write, until `byteLimit` bytes or `frameLimit`
	 * frames went or none is left.
	 */
	#write(byteLimit: number, frameLimit: number): void {
		const queue = this.#queue!;
		const transport = this.#transport;
		const metrics = this.#metrics;
		const corked = queue.length - this.#head > 1;
		if (corked) transport.cork();
		let written = 0;
		let head = this.#head;
		let frames = frameLimit;
		while (head < queue.length && written < byteLimit && frames > 0) {
			const message = queue[head];
			queue[head++] = undefined;
			if (!message) continue;
			written += message.frameLength;
			frames--;
			this.#written++;
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
