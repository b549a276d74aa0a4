import type { Socket } from 'node:net';
import * as ws from 'ws';
import { WebSocket } from 'ws';
import type { ServerMetrics } from './metrics/metrics.js';

interface FrameOptions {
	fin: boolean;
	opcode: number;
	mask: boolean;
	readOnly: boolean;
	rsv1: boolean;
}

// `Sender.frame` is public in `ws` (exported beside WebSocket) but missing from @types/ws.
const { Sender } = ws as unknown as {
	Sender: { frame(data: Buffer, options: FrameOptions): Buffer[] };
};

/**
 * One outgoing message, serialised once and framed once however many sockets it goes to. Server
 * frames are never masked, so the same header and payload bytes are valid on every connection
 * without compression.
 *
 * @example
 * ```ts
 * const message = new PreparedMessage({ name: 'tick', data: 1, timestamp: Date.now() });
 * for (const connection of members) connection.deliver(message);
 * ```
 */
export class PreparedMessage {
	readonly payload: Buffer;
	#frame: Buffer | undefined;

	constructor(message: unknown) {
		this.payload = Buffer.from(typeof message == 'string' ? message : JSON.stringify(message));
	}

	/**
	 * What queueing it costs one connection, counted against `maxBufferedBytes`: the frame as it goes
	 * on the wire (payload and header) plus the queue's own bookkeeping, so a flood of tiny messages
	 * (one-byte pongs) weighs what it really holds in memory.
	 */
	get queuedCost(): number {
		const length = this.payload.length;
		return length + frameHeaderLength(length) + QUEUE_ENTRY_OVERHEAD;
	}

	/**
	 * The complete WebSocket text frame, header and payload in one buffer, built on first use: a
	 * connection with one message queued then writes it with a single `write`, which costs less per
	 * socket than the gathered write of two buffers, and the copy is made once for every member.
	 */
	get frame(): Buffer {
		this.#frame ??= Buffer.concat(
			Sender.frame(this.payload, {
				fin: true,
				opcode: 0x01,
				mask: false,
				readOnly: true,
				rsv1: false
			})
		);
		return this.#frame;
	}

	get byteLength(): number {
		return this.payload.length;
	}

	/** Bytes of its uncompressed frame (header and payload), known without building the frame. */
	get frameLength(): number {
		const length = this.payload.length;
		return length + frameHeaderLength(length);
	}
}

/** Bytes a queued message costs beyond its frame: its slot in the queue and the connection's bookkeeping. */
const QUEUE_ENTRY_OVERHEAD = 16;

/** Bytes of an unmasked server frame's header for a payload of `length` bytes (RFC 6455 §5.2). */
function frameHeaderLength(length: number): number {
	if (length < 126) return 2;
	return length < 65_536 ? 4 : 10;
}

/** The `ws` internals the outbox writes through; see `Outbox` for why. */
interface WebSocketInternals {
	_socket?: Socket | null;
	_extensions?: Record<string, unknown>;
}

const pending = new Set<Outbox>();
let flushScheduled = false;

function flushAll(): void {
	flushScheduled = false;
	for (const outbox of pending) outbox.flush();
	pending.clear();
}

/**
 * A connection's outgoing queue, written once per event-loop turn: every message queued in one turn
 * goes out in a single corked write (one syscall instead of one per message). Without
 * permessage-deflate the prepared frame is written to the TCP socket directly, which is exactly what
 * `ws` itself would write; with compression each message goes through `ws.send` so that `ws` keeps
 * its per-connection deflate context and order.
 *
 * @example
 * ```ts
 * const outbox = new Outbox(socket, 1024, new ServerMetrics());
 * outbox.push(new PreparedMessage({ name: 'hello', data: null, timestamp: Date.now() }));
 * ```
 */
export class Outbox {
	#socket: WebSocket;
	#compressionThreshold: number;
	#metrics: ServerMetrics;
	/** Made by the first push of a turn: most connections are idle most turns, and hold no array. */
	#queue: PreparedMessage[] | undefined;
	#queuedBytes = 0;

	constructor(socket: WebSocket, compressionThreshold: number, metrics: ServerMetrics) {
		this.#socket = socket;
		this.#compressionThreshold = compressionThreshold;
		this.#metrics = metrics;
	}

	/** Bytes queued here and not yet handed to the kernel, including what `ws` still buffers. */
	get bufferedBytes(): number {
		return this.#queuedBytes + this.#socket.bufferedAmount;
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

	/** Writes everything queued now. */
	flush(): void {
		const queue = this.#queue;
		if (!queue) return;
		this.#queue = undefined;
		this.#queuedBytes = 0;
		if (this.#socket.readyState != WebSocket.OPEN) return;
		const internals = this.#socket as unknown as WebSocketInternals;
		const raw = internals._socket;
		const deflate = internals._extensions?.['permessage-deflate'];
		if (!raw || raw.destroyed) return;
		if (queue.length == 1 && !deflate) return this.#writeOne(raw, queue[0]);
		const metrics = this.#metrics;
		metrics.messagesSent += queue.length;
		raw.cork();
		for (const message of queue) {
			metrics.sentBytes += message.frameLength;
			if (deflate) {
				this.#socket.send(message.payload, {
					binary: false,
					compress: message.byteLength >= this.#compressionThreshold
				});
			} else {
				raw.write(message.frame);
			}
		}
		raw.uncork();
	}

	#writeOne(raw: Socket, message: PreparedMessage): void {
		const frame = message.frame;
		this.#metrics.messagesSent++;
		this.#metrics.sentBytes += frame.length;
		raw.write(frame);
	}

	/** Forgets what is queued (the connection is being dropped). */
	clear(): void {
		this.#queue = undefined;
		this.#queuedBytes = 0;
		pending.delete(this);
	}
}
