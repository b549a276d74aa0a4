import type { ServerMetrics } from './metrics/metrics.js';
import type { PreparedMessage } from './transport/prepared-message.js';
import type { Transport } from './transport/transport.js';

const pending = new Set<Outbox>();
let flushScheduled = false;

function flushAll(): void {
	flushScheduled = false;
	for (const outbox of pending) outbox.flush();
	pending.clear();
}

/**
 * A connection's outgoing queue, written once per event-loop turn: every message queued in one turn
 * goes out in a single corked write (one syscall instead of one per message).
 */
export class Outbox {
	#transport: Transport;
	#metrics: ServerMetrics;
	/** Made by the first push of a turn: most connections are idle most turns, and keep no array. */
	#queue: PreparedMessage[] | undefined;
	#queuedBytes = 0;

	constructor(transport: Transport, metrics: ServerMetrics) {
		this.#transport = transport;
		this.#metrics = metrics;
	}

	/** Bytes queued here and not yet handed to the kernel, including what the transport still buffers. */
	get bufferedBytes(): number {
		return this.#queuedBytes + this.#transport.bufferedAmount;
	}

	push(message: PreparedMessage): void {
		(this.#queue ??= []).push(message);
		this.#queuedBytes += message.queuedCost;
		pending.add(this);
		if (!flushScheduled) {
			flushScheduled = true;
			setImmediate(flushAll);
		}
	}

	/** Sends everything queued now. */
	flush(): void {
		const queue = this.#queue;
		if (!queue) return;
		this.#queue = undefined;
		this.#queuedBytes = 0;
		const transport = this.#transport;
		if (!transport.writable) return;
		const metrics = this.#metrics;
		metrics.messagesSent += queue.length;
		if (queue.length == 1) {
			metrics.sentBytes += queue[0].frameLength;
			return transport.send(queue[0]);
		}
		transport.cork();
		for (const message of queue) {
			metrics.sentBytes += message.frameLength;
			transport.send(message);
		}
		transport.uncork();
	}

	/** Forgets what is queued (the connection is being dropped). */
	clear(): void {
		this.#queue = undefined;
		this.#queuedBytes = 0;
		pending.delete(this);
	}
}
