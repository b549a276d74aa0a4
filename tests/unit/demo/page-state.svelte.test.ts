// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Lag } from '../../../src/routes/components/lag.svelte.js';
import { Toasts } from '../../../src/routes/components/toasts.svelte.js';

// The dashboard's own page state: how it decides it is behind, and how toasts come and go.

beforeEach(() => vi.useFakeTimers({ now: 1_000_000 }));
afterEach(() => vi.useRealTimers());

describe('Lag', () => {
	it('counts the delay beyond the usual one, so a constant clock offset is never "behind"', () => {
		const lag = new Lag();
		// The server's clock is 3 s behind this one: every message seems 3 s late.
		for (let message = 0; message < 5; message++) {
			lag.observe(Date.now() - 3_000);
			vi.advanceTimersByTime(100);
		}
		expect(lag.behind(Date.now())).toBe(0);
		// Now messages wait 4 s more in the page's queue before they are handled.
		lag.observe(Date.now() - 7_000);
		expect(lag.behind(Date.now())).toBe(4);
		lag.observe(Date.now() - 3_200);
		expect(lag.behind(Date.now())).toBe(0);
	});

	it('says nothing once no message came for a few seconds: an idle feed is not behind', () => {
		const lag = new Lag();
		lag.observe(Date.now());
		lag.observe(Date.now() - 6_000);
		expect(lag.behind(Date.now())).toBe(6);
		vi.advanceTimersByTime(6_000);
		expect(lag.behind(Date.now())).toBe(0);
	});
});

describe('Toasts', () => {
	it('shows the newest four, each for a while, and forgets a dismissed one', () => {
		const toasts = new Toasts();
		for (let index = 1; index <= 6; index++) toasts.push(`Monitor ${index} is down`, 'down');
		expect(toasts.items.map((toast) => toast.text)).toEqual([
			'Monitor 3 is down',
			'Monitor 4 is down',
			'Monitor 5 is down',
			'Monitor 6 is down'
		]);
		toasts.dismiss(toasts.items[0]!.id);
		expect(toasts.items).toHaveLength(3);
		vi.advanceTimersByTime(8_000);
		expect(toasts.items).toEqual([]);
		expect(vi.getTimerCount()).toBe(0);
	});

	it('leaves no timer behind when the page goes away', () => {
		const toasts = new Toasts();
		toasts.push('Critical incident: Checkout', 'critical');
		toasts.dispose();
		expect(vi.getTimerCount()).toBe(0);
	});
});
