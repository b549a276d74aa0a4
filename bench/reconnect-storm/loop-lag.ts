import { monitorEventLoopDelay } from 'node:perf_hooks';

/**
 * How late a process's event loop ran during a storm, ms. A process starved of CPU (the machine is
 * shared) fires its timers late and in clumps, which would make any backoff look like a herd:
 * the report prints this so such a run can be told apart.
 *
 * @example
 * const lag: LoopLag = { p99Ms: 12.1, maxMs: 48.3 };
 */
export interface LoopLag {
	p99Ms: number;
	maxMs: number;
}

/**
 * Measures the event loop's delay from `start()` on, sampling every 10 ms.
 *
 * @example
 * const meter = new LoopLagMeter();
 * meter.start();
 * report({ lag: meter.read() });
 */
export class LoopLagMeter {
	readonly #histogram = monitorEventLoopDelay({ resolution: 10 });

	start(): void {
		this.#histogram.reset();
		this.#histogram.enable();
	}

	read(): LoopLag {
		return { p99Ms: this.#histogram.percentile(99) / 1e6, maxMs: this.#histogram.max / 1e6 };
	}
}
