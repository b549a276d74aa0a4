import { describe, expect, it } from 'vitest';
import { OutboundBuffer } from '../../src/lib/client/buffer.js';

const T0 = 1_700_000_000_000;

describe('OutboundBuffer', () => {
	it('starts empty and drains nothing', () => {
		const buffer = new OutboundBuffer(3, 1_000);
		expect(buffer.size).toBe(0);
		expect(buffer.drain(T0)).toEqual({ frames: [], expired: 0 });
	});

	it('keeps frames in order up to maxSize without dropping any', () => {
		const buffer = new OutboundBuffer(3, 1_000);
		expect(buffer.push('a', T0)).toBeUndefined();
		expect(buffer.push('b', T0)).toBeUndefined();
		expect(buffer.push('c', T0)).toBeUndefined();
		expect(buffer.size).toBe(3);
		expect(buffer.drain(T0)).toEqual({ frames: ['a', 'b', 'c'], expired: 0 });
	});

	it('drops the oldest frame on overflow and returns it', () => {
		const buffer = new OutboundBuffer(3, 1_000);
		for (const frame of ['a', 'b', 'c']) buffer.push(frame, T0);
		expect(buffer.push('d', T0)).toBe('a');
		expect(buffer.size).toBe(3);
		expect(buffer.push('e', T0)).toBe('b');
		expect(buffer.size).toBe(3);
		expect(buffer.drain(T0)).toEqual({ frames: ['c', 'd', 'e'], expired: 0 });
	});

	it('returns a dropped empty-string frame as "" (not as undefined)', () => {
		const buffer = new OutboundBuffer(1, 1_000);
		buffer.push('', T0);
		expect(buffer.push('next', T0)).toBe('');
	});

	it('with maxSize 0 keeps nothing: every frame is dropped at once', () => {
		const buffer = new OutboundBuffer(0, 1_000);
		expect(buffer.push('a', T0)).toBe('a');
		expect(buffer.size).toBe(0);
		expect(buffer.drain(T0)).toEqual({ frames: [], expired: 0 });
	});

	it('empties on drain', () => {
		const buffer = new OutboundBuffer(5, 1_000);
		buffer.push('a', T0);
		buffer.push('b', T0);
		expect(buffer.drain(T0).frames).toEqual(['a', 'b']);
		expect(buffer.size).toBe(0);
		expect(buffer.drain(T0)).toEqual({ frames: [], expired: 0 });
	});

	it('drops frames older than maxAge at drain, counting them, and keeps the fresh ones in order', () => {
		const buffer = new OutboundBuffer(10, 1_000);
		buffer.push('old-1', T0);
		buffer.push('old-2', T0 + 100);
		buffer.push('edge', T0 + 500);
		buffer.push('fresh', T0 + 1_400);
		// At T0 + 1 500: 'old-1' is 1 500 ms old, 'old-2' 1 400 ms, 'edge' exactly 1 000 ms.
		expect(buffer.drain(T0 + 1_500)).toEqual({ frames: ['edge', 'fresh'], expired: 2 });
		expect(buffer.size).toBe(0);
	});

	it('treats a frame exactly maxAge old as fresh and one a millisecond older as expired', () => {
		const fresh = new OutboundBuffer(10, 1_000);
		fresh.push('a', T0);
		expect(fresh.drain(T0 + 1_000)).toEqual({ frames: ['a'], expired: 0 });
		const stale = new OutboundBuffer(10, 1_000);
		stale.push('a', T0);
		expect(stale.drain(T0 + 1_001)).toEqual({ frames: [], expired: 1 });
	});

	it('judges age at drain time, not at push time', () => {
		const buffer = new OutboundBuffer(10, 1_000);
		buffer.push('a', T0);
		buffer.push('b', T0 + 5_000);
		// Pushing much later did not expire 'a' by itself: only the drain looks at age.
		expect(buffer.size).toBe(2);
		expect(buffer.drain(T0 + 5_000)).toEqual({ frames: ['b'], expired: 1 });
	});

	it('counts overflow drops separately from expiry', () => {
		const buffer = new OutboundBuffer(2, 1_000);
		buffer.push('a', T0);
		buffer.push('b', T0);
		expect(buffer.push('c', T0 + 2_000)).toBe('a');
		expect(buffer.drain(T0 + 2_000)).toEqual({ frames: ['c'], expired: 1 });
	});

	it('clears everything without reporting it as expired', () => {
		const buffer = new OutboundBuffer(5, 1_000);
		buffer.push('a', T0);
		buffer.push('b', T0);
		buffer.clear();
		expect(buffer.size).toBe(0);
		expect(buffer.drain(T0 + 10_000)).toEqual({ frames: [], expired: 0 });
		expect(buffer.push('c', T0)).toBeUndefined();
		expect(buffer.drain(T0)).toEqual({ frames: ['c'], expired: 0 });
	});
});
