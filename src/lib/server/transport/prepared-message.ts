/**
 * One outgoing message, serialised once and framed once however many sockets it goes to. Server
 * frames are never masked (RFC 6455 §5.1), so the same header and payload bytes are valid on every
 * connection without compression.
 */
export class PreparedMessage {
	readonly payload: Buffer;
	/**
	 * What it is the latest value of, for a room message with a conflation key: its room, name and
	 * key in one string. A connection that falls behind sends only the newest queued message of each.
	 */
	readonly conflationId: string | undefined;
	#frame: Buffer | undefined;

	constructor(message: unknown, conflationId?: string) {
		this.payload = Buffer.from(typeof message == 'string' ? message : JSON.stringify(message));
		this.conflationId = conflationId;
	}

	/**
	 * What queueing it costs one connection, counted against `maxBufferedBytes`: the frame as it goes
	 * on the wire (payload and header) plus the queue's own bookkeeping, so a flood of tiny messages
	 * (one-byte pongs) weighs what it really takes in memory.
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
		this.#frame ??= textFrame(this.payload);
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

/** FIN set, opcode 0x1 (text): a whole text message in one frame. */
const FIN_TEXT = 0x81;

/** Bytes of an unmasked server frame's header for a payload of `length` bytes (RFC 6455 §5.2). */
function frameHeaderLength(length: number): number {
	if (length < 126) return 2;
	return length < 65_536 ? 4 : 10;
}

/** The unmasked, uncompressed text frame of `payload`: header and payload in one buffer. */
function textFrame(payload: Buffer): Buffer {
	const length = payload.length;
	const header = frameHeaderLength(length);
	const frame = Buffer.allocUnsafe(header + length);
	frame[0] = FIN_TEXT;
	if (header == 2) frame[1] = length;
	else if (header == 4) {
		frame[1] = 126;
		frame.writeUInt16BE(length, 2);
	} else {
		frame[1] = 127;
		frame.writeUInt16BE(0, 2);
		frame.writeUIntBE(length, 4, 6);
	}
	payload.copy(frame, header);
	return frame;
}
