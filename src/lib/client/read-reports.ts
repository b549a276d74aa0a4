import { READ_REPORT_FRAMES, READ_REPORT_INTERVAL_MS } from '../protocol/envelope.js';

/**
 * A connection's read reports, from `readReports()`.
 */
export interface ReadReports {
	/** A frame was read. */
	read(): void;
	stop(): void;
}

/**
 * Tells the server how many frames of one connection were read (PROTOCOL.md, "Read reports"): 0 at
 * once, then `READ_REPORT_INTERVAL_MS` after `READ_REPORT_FRAMES` came since the last report, with
 * the count by then. So reports are at least that far apart, and the frames in flight always bring
 * the next one: the server never waits for a report that only frames it holds back would bring.
 * Closures rather than a class, as `heartbeat`.
 */
export function readReports(send: (count: number) => void): ReadReports {
	let read = 0;
	let reported = 0;
	let timer: ReturnType<typeof setTimeout> | undefined;
	const report = () => {
		timer = undefined;
		send((reported = read));
	};
	report();
	return {
		read() {
			if (++read - reported >= READ_REPORT_FRAMES)
				timer ??= setTimeout(report, READ_REPORT_INTERVAL_MS);
		},
		stop: () => clearTimeout(timer)
	};
}
