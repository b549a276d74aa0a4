import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RequestKeyLimits } from '../../../src/lib/engine/engine.js';
import { MemoryRequestKeys } from '../../../src/lib/engine/memory-request-keys.js';
import { MemoryEngine } from '../../../src/lib/server/index.js';

const LIMITS: RequestKeyLimits = { window: 60_000, lease: 10_000, maxKeys: 3, maxBytes: 1_000 };

/** A reply kept for a key, as the server writes it. */
function reply(data: unknown): string {
	return JSON.stringify(['reply', data]);
}

beforeEach(() => {
	vi.useFakeTimers();
});

afterEach(() => {
	vi.useRealTimers();
});

describe('MemoryRequestKeys', () => {
	it('claims a key once, answers running while it is held, then the answer kept for it', () => {
		const keys = new MemoryRequestKeys();
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'claimed' });
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'running' });
		expect(keys.claim('u2', 'k', LIMITS)).toEqual({ state: 'claimed' });
		keys.settle('u1', 'k', reply({ n: 1 }), LIMITS);
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'answered', answer: reply({ n: 1 }) });
		expect(keys.claim('u2', 'k', LIMITS)).toEqual({ state: 'running' });
	});

	it('keeps the first answer when handlers that ran again after a lease settle a second one', () => {
		const keys = new MemoryRequestKeys();
		keys.claim('u1', 'k', LIMITS);
		keys.settle('u1', 'k', reply('first'), LIMITS);
		keys.settle('u1', 'k', reply('second'), LIMITS);
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'answered', answer: reply('first') });
		vi.advanceTimersByTime(LIMITS.window);
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'claimed' });
		keys.settle('u1', 'k', reply('later'), LIMITS);
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'answered', answer: reply('later') });
	});

	it('lets a claim go once its lease ran out, and a released one at once', () => {
		const keys = new MemoryRequestKeys();
		keys.claim('u1', 'k', LIMITS);
		vi.advanceTimersByTime(LIMITS.lease - 1);
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'running' });
		vi.advanceTimersByTime(1);
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'claimed' });
		keys.release('u1', 'k');
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'claimed' });
	});

	it('keeps an answer for the window, then forgets it', () => {
		const keys = new MemoryRequestKeys();
		keys.claim('u1', 'k', LIMITS);
		keys.settle('u1', 'k', reply(1), LIMITS);
		vi.advanceTimersByTime(LIMITS.window - 1);
		expect(keys.claim('u1', 'k', LIMITS).state).toBe('answered');
		vi.advanceTimersByTime(1);
		expect(keys.claim('u1', 'k', LIMITS)).toEqual({ state: 'claimed' });
	});

	it("evicts a scope's oldest answers past maxKeys, and leaves other scopes alone", () => {
		const keys = new MemoryRequestKeys();
		keys.settle('u2', 'other', reply(0), LIMITS);
		for (const key of ['a', 'b', 'c', 'd']) {
			keys.claim('u1', key, LIMITS);
			keys.settle('u1', key, reply(key), LIMITS);
		}
		expect(keys.claim('u1', 'a', LIMITS)).toEqual({ state: 'claimed' });
		for (const key of ['b', 'c', 'd']) expect(keys.claim('u1', key, LIMITS).state).toBe('answered');
		expect(keys.claim('u2', 'other', LIMITS).state).toBe('answered');
	});

	it("evicts a scope's oldest answers past maxBytes, counting UTF-8 bytes", () => {
		const keys = new MemoryRequestKeys();
		const limits = { ...LIMITS, maxKeys: 100, maxBytes: 100 };
		const big = reply('é'.repeat(20)); // 54 bytes, 34 characters
		keys.settle('u1', 'a', big, limits);
		keys.settle('u1', 'b', big, limits);
		expect(keys.claim('u1', 'a', limits)).toEqual({ state: 'claimed' });
		expect(keys.claim('u1', 'b', limits).state).toBe('answered');
	});

	it('keeps an answer larger than maxBytes as the error answer_not_kept', () => {
		const keys = new MemoryRequestKeys();
		const limits = { ...LIMITS, maxBytes: 200 };
		keys.settle('u1', 'k', reply('x'.repeat(300)), limits);
		const found = keys.claim('u1', 'k', limits);
		expect(found.state).toBe('answered');
		const [name, data] = JSON.parse(found.state == 'answered' ? found.answer : 'null');
		expect(name).toBe('error');
		expect(data).toEqual({
			code: 'answer_not_kept',
			message: expect.stringContaining('312 bytes')
		});
	});

	it('keeps the answer just given whatever the bounds, so that its repeat is never run again', () => {
		const keys = new MemoryRequestKeys();
		const limits = { ...LIMITS, maxKeys: 0, maxBytes: 20 };
		keys.settle('u1', 'a', reply('x'.repeat(30)), limits);
		// Kept as answer_not_kept, longer than maxBytes itself.
		expect(keys.claim('u1', 'a', limits).state).toBe('answered');
		keys.settle('u1', 'b', reply(1), limits);
		expect(keys.claim('u1', 'a', limits)).toEqual({ state: 'claimed' });
		expect(keys.claim('u1', 'b', limits)).toEqual({ state: 'answered', answer: reply(1) });
	});

	it('bounds what it keeps across scopes, the oldest answers going first', () => {
		const keys = new MemoryRequestKeys({ maxBytes: 1_000 });
		const limits = { ...LIMITS, maxKeys: 100 };
		const answer = reply('x'.repeat(90)); // 103 bytes, and a one-character key
		for (let scope = 0; scope < 20; scope++) keys.settle(`c${scope}`, 'k', answer, limits);
		expect(keys.usage.bytes).toBeLessThanOrEqual(1_000);
		expect(keys.usage).toMatchObject({ scopes: 9, answers: 9 });
		expect(keys.claim('c10', 'k', limits)).toEqual({ state: 'claimed' });
		expect(keys.claim('c19', 'k', limits).state).toBe('answered');
	});

	it('forgets the scopes nobody asks about again once their answers and claims expired', () => {
		const keys = new MemoryRequestKeys();
		for (let scope = 0; scope < 50; scope++) {
			keys.claim(`c${scope}`, 'held', LIMITS);
			keys.settle(`c${scope}`, 'k', reply(scope), LIMITS);
		}
		expect(keys.usage).toMatchObject({ scopes: 50, answers: 50 });
		vi.advanceTimersByTime(LIMITS.window + 60_000);
		keys.claim('someone', 'else', LIMITS);
		expect(keys.usage).toEqual({ scopes: 1, answers: 0, bytes: 0 });
		keys.release('someone', 'else');
		expect(keys.usage.scopes).toBe(0);
	});

	it('is what a MemoryEngine keeps request keys in', () => {
		expect(new MemoryEngine().requestKeys).toBeInstanceOf(MemoryRequestKeys);
	});
});
