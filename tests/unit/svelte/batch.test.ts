import { describe, expect, it, vi } from 'vitest';
import { Batch, nextFrame } from '../../../src/lib/svelte/batch.js';

describe('Batch', () => {
	it('runs each publish once per flush, however often it was added', () => {
		const flushes: (() => void)[] = [];
		const batch = new Batch((flush) => void flushes.push(flush));
		const a = vi.fn();
		const b = vi.fn();
		batch.add(a);
		batch.add(b);
		batch.add(a);
		expect(flushes).toHaveLength(1);
		flushes[0]();
		expect([a.mock.calls.length, b.mock.calls.length]).toEqual([1, 1]);
		batch.add(a);
		expect(flushes).toHaveLength(2);
	});

	it('publishes at once with a schedule that flushes at once', () => {
		const batch = new Batch((flush) => flush());
		const publish = vi.fn();
		batch.add(publish);
		batch.add(publish);
		expect(publish).toHaveBeenCalledTimes(2);
	});

	it('without a window, flushes in the next microtask', async () => {
		const publish = vi.fn();
		new Batch(nextFrame).add(publish);
		expect(publish).not.toHaveBeenCalled();
		await Promise.resolve();
		expect(publish).toHaveBeenCalledTimes(1);
	});

	it('clear() forgets what waits and cancels the flush its schedule can cancel', () => {
		const cancel = vi.fn();
		const flushes: (() => void)[] = [];
		const batch = new Batch((flush) => {
			flushes.push(flush);
			return cancel;
		});
		const publish = vi.fn();
		batch.add(publish);
		batch.clear();
		expect(cancel).toHaveBeenCalledTimes(1);
		flushes[0](); // a schedule that could not cancel in time: the flush finds nothing
		expect(publish).not.toHaveBeenCalled();
		batch.add(publish);
		expect(flushes).toHaveLength(2);
	});
});
