import { describe, expect, it } from 'vitest';
import { CHECKS_KEPT, type Check } from '../../../src/demo/messages.js';
import {
	drawChecks,
	lastChecks,
	skippedChecks
} from '../../../src/routes/components/monitors/check-series.js';

// A monitor's sparkline when the page skipped checks (conflated while it was behind): the checks it
// never got leave a gap, and the line never joins two checks that were not consecutive.

const box = { width: 120, height: 32, top: 100 };
const checks = (...numbers: number[]): Check[] =>
	numbers.map((seq) => ({ at: seq * 1000, ms: 50, seq }));

describe("a monitor's checks on its card", () => {
	it('keeps the last CHECKS_KEPT check numbers, not the last CHECKS_KEPT checks received', () => {
		const received = checks(1, 2, 3, 80, 81, 100);
		expect(lastChecks(received).map((check) => check.seq)).toEqual([80, 81, 100]);
		const all = checks(...Array.from({ length: CHECKS_KEPT + 5 }, (_, index) => index + 1));
		expect(lastChecks(all)).toHaveLength(CHECKS_KEPT);
		expect(lastChecks([])).toEqual([]);
	});

	it('counts the check numbers it never got between the first and the last', () => {
		expect(skippedChecks(checks(10, 11, 12))).toBe(0);
		expect(skippedChecks(checks(10, 14, 15))).toBe(3);
		expect(skippedChecks([])).toBe(0);
	});

	it('draws consecutive checks as one line, at even steps', () => {
		expect(drawChecks(checks(1, 2, 3), box).path).toBe('M0.0 16.0L60.0 16.0L120.0 16.0');
	});

	it('breaks the line where checks are missing, each check where its number puts it', () => {
		// 3 to 8 never arrived: 1-2 is a line, 9-11 another, with the gap in between.
		const { path } = drawChecks(checks(1, 2, 9, 10, 11), box);
		expect(path).toBe('M0.0 16.0L12.0 16.0M96.0 16.0L108.0 16.0L120.0 16.0');
	});

	it('draws a lone check between gaps as a dot, not as nothing or a joined line', () => {
		const { path } = drawChecks(checks(1, 5, 9), box);
		expect(path).toBe('M0.0 16.0h0.01M60.0 16.0h0.01M120.0 16.0h0.01');
	});

	it('marks a check without an answer where it was, and breaks the line there too', () => {
		const series: Check[] = [...checks(1), { at: 2000, ms: null, seq: 2 }, ...checks(3)];
		const { path, misses } = drawChecks(series, box);
		expect(path).toBe('M0.0 16.0h0.01M120.0 16.0h0.01');
		expect(misses).toEqual([60]);
	});

	it('draws a single check at the right edge', () => {
		expect(drawChecks(checks(7), box).path).toBe('M120.0 16.0h0.01');
		expect(drawChecks([], box)).toEqual({ path: '', misses: [] });
	});
});
