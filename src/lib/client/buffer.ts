interface BufferedFrame {
	readonly frame: string;
	readonly queuedAt: number;
}

/**
 * Frames waiting for a connection, bounded by count and by age so a long outage can neither grow
 * memory without limit nor replay stale actions. The caller reports what was dropped.
 *
 * @example
 * ```ts
 * const buffer = new OutboundBuffer(100, 30_000);
 * buffer.push('{"name":"typing"}', Date.now()); // undefined: nothing dropped
 * const { frames, expired } = buffer.drain(Date.now());
 * ```
 */
export class OutboundBuffer {
	#frames: BufferedFrame[] = [];
	#maxSize: number;
	#maxAge: number;

	constructor(maxSize: number, maxAge: number) {
		this.#maxSize = maxSize;
		this.#maxAge = maxAge;
	}

	/** Queues a frame; returns the frame dropped to make room, if the buffer was full. */
	push(frame: string, now: number): string | undefined {
		this.#frames.push({ frame, queuedAt: now });
		return this.#frames.length > this.#maxSize ? this.#frames.shift()?.frame : undefined;
	}

	/** Empties the buffer: the frames still fresh enough to send, and how many had expired. */
	drain(now: number): { frames: string[]; expired: number } {
		const fresh = this.#frames.filter(({ queuedAt }) => now - queuedAt <= this.#maxAge);
		const expired = this.#frames.length - fresh.length;
		this.#frames = [];
		return { frames: fresh.map(({ frame }) => frame), expired };
	}

	/** Drops everything queued. */
	clear(): void {
		this.#frames = [];
	}

	get size(): number {
		return this.#frames.length;
	}
}
