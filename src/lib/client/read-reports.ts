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
 * once, then whenever `READ_REPORT_FRAMES` came since the last report, and at most every `READ_REPORT_INTERVAL_MS`: a
 * report a closed gate holds back goes on a timer, so the server never waits for one that would
 * only come with frames it is holding back. Closures rather than a class, as `heartbeat`.
 */
export function readReports(send: (count: number) => void): ReadReports {
	let read = 0;
	let reported = 0;
	let reportedAt = 0;
	let timer: ReturnType<typeof setTimeout> | undefined;
	const report = () => {
		timer = undefined;
		reported = read;
		reportedAt = Date.now();
		send(read);
	};
	// At once: the server windows what it sends from the first frame on, not only after 256.
	report();
	return {
		read() {
			if (++read - reported < READ_REPORT_FRAMES || timer) return;
			const wait = reportedAt + READ_REPORT_INTERVAL_MS - Date.now();
			if (wait > 0) timer = setTimeout(report, wait);
			else report();
		},
		stop: () => clearTimeout(timer)
	};
}
