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

	it('reports 100 ms after 256 frames came since the last report, with the count by then', () => {
		const { sent, read } = setup();
		read(READ_REPORT_FRAMES - 1);
		vi.advanceTimersByTime(10 * READ_REPORT_INTERVAL_MS);
		expect(sent).toEqual([0]);
		read(1);
		vi.advanceTimersByTime(READ_REPORT_INTERVAL_MS - 1);
		read(10);
		expect(sent).toEqual([0]);
		vi.advanceTimersByTime(1);
		expect(sent).toEqual([0, READ_REPORT_FRAMES + 10]);
	});

	it('sends at most one report per 100 ms, and the frames in flight always bring the next one', () => {
		const { sent, read } = setup();
		for (let round = 1; round <= 3; round++) {
			read(5 * READ_REPORT_FRAMES);
			vi.advanceTimersByTime(READ_REPORT_INTERVAL_MS - 1);
			expect(sent).toHaveLength(round);
			vi.advanceTimersByTime(1);
			expect(sent.at(-1)).toBe(5 * READ_REPORT_FRAMES * round);
		}
	});

	it('sends nothing after stop(), also what a closed gate held back', () => {
		const { sent, reports, read } = setup();
		read(READ_REPORT_FRAMES);
		reports.stop();
		vi.advanceTimersByTime(10 * READ_REPORT_INTERVAL_MS);
		expect(sent).toEqual([0]);
	});
});
