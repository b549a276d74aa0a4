/** How often the probe's timer is due: the resolution of what it measures. */
const TICK_MS = 10;
/** How often it samples the heap for the peak. */
const HEAP_SAMPLE_EVERY_TICKS = 10;

/** What a `LoopProbe` saw since it was last asked. */
export interface LoopReading {
	/** The longest a tick came late: the event loop was busy, or the process was not scheduled. */
	readonly maxDelayMs: number;
	/**
	 * The longest the loop was blocked by this process's own work: each tick's delay, capped by the
	 * CPU time the process used meanwhile. Time the kernel gave to other processes on a busy machine
	 * does not count, so this is the stall the server causes, not the one its neighbours do.
	 */
	readonly maxStallMs: number;
	/** The highest `heapUsed` sampled (every 100 ms), in bytes. */
	readonly peakHeapUsed: number;
	/** Ticks measured. */
	readonly ticks: number;
}

/**
 * Measures the event loop of the process it runs in with a timer due every 10 ms: how late each
 * tick came, how much of that the process spent working, and the heap's peak.
 *
 * @example
 * ```ts
 * const probe = new LoopProbe();
 * probe.start();
 * // … later, e.g. on GET /stats:
 * const { maxStallMs } = probe.take(); // and the maxima start again from zero
 * ```
 */
export class LoopProbe {
	#timer: ReturnType<typeof setInterval> | undefined;
	#lastTick = 0;
	#lastCpu: NodeJS.CpuUsage = process.cpuUsage();
	#maxDelayMs = 0;
	#maxStallMs = 0;
	#peakHeapUsed = 0;
	#ticks = 0;

	start(): void {
		this.#rebase();
		this.#timer ??= setInterval(() => this.#tick(), TICK_MS);
	}

	stop(): void {
		clearInterval(this.#timer);
		this.#timer = undefined;
	}

	/** The maxima since the last call; they start again from zero. */
	take(): LoopReading {
		const reading: LoopReading = {
			maxDelayMs: round(this.#maxDelayMs),
			maxStallMs: round(this.#maxStallMs),
			peakHeapUsed: Math.max(this.#peakHeapUsed, process.memoryUsage().heapUsed),
			ticks: this.#ticks
		};
		this.#maxDelayMs = 0;
		this.#maxStallMs = 0;
		this.#peakHeapUsed = 0;
		this.#ticks = 0;
		return reading;
	}

	/** Runs `work` (e.g. a forced garbage collection) without counting it as a stall. */
	pause(work: () => void): void {
		work();
		this.#rebase();
	}

	#rebase(): void {
		this.#lastTick = performance.now();
		this.#lastCpu = process.cpuUsage();
	}

	#tick(): void {
		const now = performance.now();
		const cpu = process.cpuUsage(this.#lastCpu);
		const delay = Math.max(0, now - this.#lastTick - TICK_MS);
		const busy = (cpu.user + cpu.system) / 1000;
		this.#maxDelayMs = Math.max(this.#maxDelayMs, delay);
		this.#maxStallMs = Math.max(this.#maxStallMs, Math.min(delay, busy));
		this.#ticks++;
		if (this.#ticks % HEAP_SAMPLE_EVERY_TICKS == 0) {
			this.#peakHeapUsed = Math.max(this.#peakHeapUsed, process.memoryUsage().heapUsed);
		}
		this.#rebase();
	}
}

function round(ms: number): number {
	return Math.round(ms * 10) / 10;
}
