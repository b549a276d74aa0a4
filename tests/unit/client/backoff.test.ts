import { describe, expect, it } from 'vitest';
import { reconnectDelay } from '../../../src/lib/client/backoff.js';

const MIN = 500;
const MAX = 20_000;
const SAMPLES = 10_000;
const ALMOST_ONE = 0.999999;

/** The documented window: min(maxDelay, minDelay · 2^attempt). */
const cap = (attempt: number, min = MIN, max = MAX) => Math.min(max, min * 2 ** attempt);

describe('reconnectDelay bounds with an injected random', () => {
	it('matches the documented example: attempt 3 of 500/20 000 lies in [0, 4000)', () => {
		expect(reconnectDelay(3, MIN, MAX, () => 0)).toBe(0);
		expect(reconnectDelay(3, MIN, MAX, () => ALMOST_ONE)).toBe(3_999);
		expect(reconnectDelay(3, MIN, MAX, () => 0.5)).toBe(2_000);
	});

	it.each([0, 1, 2, 3, 4, 5, 6, 10, 30, 100, 1_100])(
		'attempt %i: random 0 gives 0 and random → 1 gives just under the window',
		(attempt) => {
			const window = cap(attempt);
			expect(reconnectDelay(attempt, MIN, MAX, () => 0)).toBe(0);
			const highest = reconnectDelay(attempt, MIN, MAX, () => ALMOST_ONE);
			expect(highest).toBeLessThan(window);
			expect(highest).toBe(window - 1);
		}
	);

	it('doubles the window with every attempt until it reaches maxDelay', () => {
		const windows = [0, 1, 2, 3, 4, 5, 6, 7].map(
			(attempt) => reconnectDelay(attempt, MIN, MAX, () => ALMOST_ONE) + 1
		);
		expect(windows).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 20_000, 20_000]);
	});

	it('applies the cap before the randomness (the middle of the window, not of the uncapped range)', () => {
		// Uncapped, attempt 10 would be 512 000 ms; half of it must not leak through the cap.
		expect(reconnectDelay(10, MIN, MAX, () => 0.5)).toBe(10_000);
	});

	it('returns whole milliseconds', () => {
		for (const r of [0.1234567, 0.5, 0.987654]) {
			expect(Number.isInteger(reconnectDelay(2, 333, 50_000, () => r))).toBe(true);
		}
	});

	it('uses maxDelay as the window when it is below minDelay', () => {
		expect(reconnectDelay(0, 5_000, 1_000, () => ALMOST_ONE)).toBe(999);
	});

	it('uses Math.random when no random is given', () => {
		const values = new Set(Array.from({ length: 50 }, () => reconnectDelay(5, MIN, MAX)));
		expect(values.size).toBeGreaterThan(1);
	});
});

describe.each([0, 1, 2, 3, 4, 5, 6, 8, 20, 64, 2_000])(
	'reconnectDelay with Math.random, attempt %i',
	(attempt) => {
		const window = cap(attempt);
		const samples = Array.from({ length: SAMPLES }, () => reconnectDelay(attempt, MIN, MAX));

		it('stays inside [0, window) and never exceeds maxDelay', () => {
			const lowest = Math.min(...samples);
			const highest = Math.max(...samples);
			expect(lowest).toBeGreaterThanOrEqual(0);
			expect(highest).toBeLessThan(window);
			expect(highest).toBeLessThanOrEqual(MAX);
			expect(samples.every(Number.isInteger)).toBe(true);
		});

		it('spreads over the whole window (full jitter)', () => {
			const mean = samples.reduce((sum, value) => sum + value, 0) / samples.length;
			expect(Math.abs(mean - window / 2)).toBeLessThan(window * 0.1);
			const deciles = Array.from({ length: 10 }, () => 0);
			for (const value of samples) deciles[Math.floor((value / window) * 10)]!++;
			expect(deciles[0]).toBeGreaterThan(0);
			expect(deciles[9]).toBeGreaterThan(0);
			// Uniform: every decile holds roughly a tenth (1000 of 10 000; ±30 % is > 9 sigma).
			for (const count of deciles) {
				expect(count).toBeGreaterThan((SAMPLES / 10) * 0.7);
				expect(count).toBeLessThan((SAMPLES / 10) * 1.3);
			}
		});

		if (window == MAX) {
			it('is capped at maxDelay: the samples reach into the top of [0, maxDelay)', () => {
				expect(Math.max(...samples)).toBeGreaterThan(MAX * 0.99);
			});
		}
	}
);
