import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readReports } from '../../../src/lib/client/read-reports.js';
import { READ_REPORT_FRAMES, READ_REPORT_INTERVAL_MS } from '../../../src/lib/protocol/envelope.js';

describe('read reports', () => {
	beforeEach(() => {
		vi.useFakeTimers();
		vi.setSystemTime(new Date('2026-01-01T00:00:00Z'));
	});

	afterEach(() => {
		vi.useRealTimers();
	});

	function setup() {
		const sent: number[] = [];
		const reports = readReports((count) => sent.push(count));
		const read = (frames: number) => {
			for (let frame = 0; frame < frames; frame++) reports.read();
		};
		return { sent, reports, read };
	}

	it('reports 0 at once, so the server windows what it sends from the first frame', () => {
		expect(setup().sent).toEqual([0]);
	});

	it('reports once 256 frames came since the last report, not before', () => {
		vi.advanceTimersByTime(READ_REPORT_INTERVAL_MS);
		const { sent, read } = setup();
		vi.advanceTimersByTime(READ_REPORT_INTERVAL_MS);
		read(READ_REPORT_FRAMES - 1);
		expect(sent).toEqual([0]);
		read(1);
		expect(sent).toEqual([0, READ_REPORT_FRAMES]);
	});

	it('sends at most one report per 100 ms: one a closed gate held back goes on a timer, with the count then', () => {
		const { sent, read } = setup();
		read(READ_REPORT_FRAMES);
		expect(sent).toEqual([0]);
		read(10);
		vi.advanceTimersByTime(READ_REPORT_INTERVAL_MS - 1);
		expect(sent).toEqual([0]);
		vi.advanceTimersByTime(1);
		expect(sent).toEqual([0, READ_REPORT_FRAMES + 10]);
		// The frames in flight always bring a report: none is left waiting for frames that never come.
		read(READ_REPORT_FRAMES);
		vi.advanceTimersByTime(READ_REPORT_INTERVAL_MS);
		expect(sent).toEqual([0, READ_REPORT_FRAMES + 10, 2 * READ_REPORT_FRAMES + 10]);
	});

	it('sends nothing after stop(), also what a closed gate held back', () => {
		const { sent, reports, read } = setup();
		read(READ_REPORT_FRAMES);
		reports.stop();
		vi.advanceTimersByTime(10 * READ_REPORT_INTERVAL_MS);
		expect(sent).toEqual([0]);
	});
});
