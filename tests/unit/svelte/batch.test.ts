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

	it('runs the publishes its deliveries add in the same flush, after every delivery', () => {
		const flushes: (() => void)[] = [];
		const batch = new Batch((flush) => void flushes.push(flush));
		const order: string[] = [];
		const publish = () => order.push('publish');
		batch.add(publish);
		batch.deliver(() => {
			order.push('deliver 1');
			batch.add(publish);
		});
		batch.deliver(() => {
			order.push('deliver 2');
			batch.add(() => order.push('another publish'));
		});
		expect(flushes).toHaveLength(1);
		flushes[0]();
		expect(order).toEqual(['deliver 1', 'deliver 2', 'publish', 'another publish']);
		expect(flushes).toHaveLength(1); // nothing was left for another flush
	});

	it('leaves what a publish adds, and what a delivery adds to deliveries, to the next flush', () => {
		const flushes: (() => void)[] = [];
		const batch = new Batch((flush) => void flushes.push(flush));
		const order: string[] = [];
		const again = () => order.push('delivered again');
		batch.deliver(() => {
			order.push('delivered');
			batch.deliver(again);
		});
		batch.add(() => {
			order.push('published');
			batch.add(() => order.push('published again'));
		});
		flushes[0]();
		expect(order).toEqual(['delivered', 'published']);
		expect(flushes).toHaveLength(2);
		flushes[1]();
		expect(order).toEqual(['delivered', 'published', 'delivered again', 'published again']);
	});

	it('clear() during a flush stops it: nothing after runs', () => {
		const flushes: (() => void)[] = [];
		const batch = new Batch((flush) => void flushes.push(flush));
		const ran: string[] = [];
		batch.deliver(() => {
			ran.push('first delivery');
			batch.add(() => ran.push('its publish'));
			batch.clear();
		});
		batch.deliver(() => ran.push('second delivery'));
		batch.add(() => ran.push('a publish'));
		flushes[0]();
		expect(ran).toEqual(['first delivery']);
		batch.add(() => ran.push('after'));
		expect(flushes).toHaveLength(2); // usable again
		flushes[1]();
		expect(ran).toEqual(['first delivery', 'after']);
	});
});
