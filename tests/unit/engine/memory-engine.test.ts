import { afterEach, describe, expect, it, vi } from 'vitest';
import { MemoryEngine } from '../../../src/lib/server/index.js';
import type { HistoryOptions } from '../../../src/lib/engine/engine.js';
import type { StreamPosition } from '../../../src/lib/index.js';

interface Delivery {
	room: string;
	message: unknown;
	except?: string;
}

/** A started engine and everything it delivered. */
function started(history?: HistoryOptions) {
	const engine = new MemoryEngine({ history });
	const delivered: Delivery[] = [];
	engine.start({ deliver: (room, message, except) => delivered.push({ room, message, except }) });
	return { engine, delivered };
}

afterEach(() => {
	vi.useRealTimers();
});

describe('offsets and epochs', () => {
	it('adds offset previous + 1 and a stable epoch to every object message, per room', async () => {
		const { engine, delivered } = started();
		const a1 = await engine.publish('a', { name: 'x', data: 1 });
		const a2 = await engine.publish('a', { name: 'x', data: 2 });
		const b1 = await engine.publish('b', { name: 'y' });
		const a3 = await engine.publish('a', { name: 'x', data: 3 });

		expect([a1?.offset, a2?.offset, a3?.offset]).toEqual([1, 2, 3]);
		expect(b1?.offset).toBe(1);
		expect(a1?.epoch).toMatch(/^[\w-]{8}$/);
		expect(new Set([a1?.epoch, a2?.epoch, a3?.epoch]).size).toBe(1);
		expect(b1?.epoch).not.toBe(a1?.epoch);
		expect(delivered.map((d) => d.message)).toEqual([
			{ name: 'x', data: 1, offset: 1, epoch: a1?.epoch },
			{ name: 'x', data: 2, offset: 2, epoch: a1?.epoch },
			{ name: 'y', offset: 1, epoch: b1?.epoch },
			{ name: 'x', data: 3, offset: 3, epoch: a1?.epoch }
		]);
	});

	it('delivers synchronously, to the room, with except', async () => {
		const { engine, delivered } = started();
		void engine.publish('a', { name: 'x' }, { except: 'conn-1' });
		expect(delivered).toEqual([{ room: 'a', message: expect.any(Object), except: 'conn-1' }]);
	});

	it("replaces a message's own offset and epoch fields and leaves the caller's object alone", async () => {
		const { engine, delivered } = started();
		const original = { name: 'x', offset: 99, epoch: 'mine' };
		const position = await engine.publish('a', original);
		expect(delivered[0].message).toEqual({ name: 'x', offset: 1, epoch: position?.epoch });
		expect(original).toEqual({ name: 'x', offset: 99, epoch: 'mine' });
	});

	it('delivers non-object messages as they are, without an offset or history', async () => {
		const { engine, delivered } = started();
		const sent: unknown[] = ['text', 42, null, [1, 2], true];
		for (const message of sent) expect(await engine.publish('a', message)).toBeUndefined();
		expect(delivered.map((d) => d.message)).toEqual(sent);
		const after = await engine.publish('a', { name: 'x' });
		expect(after?.offset).toBe(1);
		expect((await engine.history('a', { offset: 0, epoch: after!.epoch })).messages).toHaveLength(
			1
		);
	});

	it("gives the room '*' no offsets and no history", async () => {
		const { engine, delivered } = started();
		expect(await engine.publish('*', { name: 'all' }, { except: 'c' })).toBeUndefined();
		expect(delivered).toEqual([{ room: '*', message: { name: 'all' }, except: 'c' }]);
		const history = await engine.history('*', { offset: 0, epoch: '' });
		expect(history.recovered).toBe(false);
		expect(history.messages).toEqual([]);
		expect((await engine.history('*')).recovered).toBe(true);
	});
});

describe('history', () => {
	it('without since: the current position, recovered, no messages', async () => {
		const { engine } = started();
		const fresh = await engine.history('a');
		expect(fresh).toEqual({
			recovered: true,
			position: { offset: 0, epoch: expect.stringMatching(/^~\d+:/) },
			messages: []
		});
		const position = await engine.publish('a', { name: 'x' });
		expect(position).toEqual({ offset: 1, epoch: expect.stringMatching(/^[\w-]{8}$/) });
		expect(await engine.history('a')).toEqual({ recovered: true, position, messages: [] });
		// The position handed out before the first publish recovers it.
		expect(await engine.history('a', fresh.position)).toMatchObject({
			recovered: true,
			position,
			messages: [{ name: 'x', offset: 1 }]
		});
	});

	it('returns every message after since, in order, exactly as delivered', async () => {
		const { engine, delivered } = started();
		let position: StreamPosition | undefined;
		for (let i = 1; i <= 5; i++) position = await engine.publish('a', { name: 'x', data: i });
		const since = { offset: 2, epoch: position!.epoch };
		const history = await engine.history('a', since);
		expect(history.recovered).toBe(true);
		expect(history.position).toEqual(position);
		expect(history.messages).toEqual(delivered.slice(2).map((d) => d.message));
		expect(history.messages.map((m) => m.offset)).toEqual([3, 4, 5]);
	});

	it('recovers nothing missed when since is the current position', async () => {
		const { engine } = started();
		const position = await engine.publish('a', { name: 'x' });
		expect(await engine.history('a', position)).toEqual({
			recovered: true,
			position,
			messages: []
		});
	});

	it('is not recovered when the epoch differs, since is ahead, or since is not a position', async () => {
		const { engine } = started();
		const position = (await engine.publish('a', { name: 'x' }))!;
		for (const since of [
			{ offset: 0, epoch: 'another' },
			{ offset: 2, epoch: position.epoch },
			{ offset: -1, epoch: position.epoch },
			{ offset: 0.5, epoch: position.epoch },
			{ offset: '0', epoch: position.epoch } as unknown as StreamPosition
		]) {
			expect(await engine.history('a', since)).toEqual({
				recovered: false,
				position,
				messages: []
			});
		}
	});

	it('keeps the last `size` messages: older positions are not recovered', async () => {
		const { engine } = started({ size: 3 });
		let position: StreamPosition | undefined;
		for (let i = 1; i <= 5; i++) position = await engine.publish('a', { name: 'x', data: i });
		const { epoch } = position!;
		expect((await engine.history('a', { offset: 0, epoch })).recovered).toBe(false);
		expect((await engine.history('a', { offset: 1, epoch })).recovered).toBe(false);
		const kept = await engine.history('a', { offset: 2, epoch });
		expect(kept.recovered).toBe(true);
		expect(kept.messages.map((m) => m.data)).toEqual([3, 4, 5]);
	});

	it('keeps each message `ttl` ms', async () => {
		vi.useFakeTimers();
		const { engine } = started({ ttl: 1_000 });
		const first = (await engine.publish('a', { name: 'x', data: 1 }))!;
		vi.advanceTimersByTime(600);
		await engine.publish('a', { name: 'x', data: 2 });
		vi.advanceTimersByTime(399);
		expect((await engine.history('a', { offset: 0, epoch: first.epoch })).messages).toHaveLength(2);
		vi.advanceTimersByTime(1); // the first is now 1 000 ms old
		expect((await engine.history('a', { offset: 0, epoch: first.epoch })).recovered).toBe(false);
		const rest = await engine.history('a', first);
		expect(rest.recovered).toBe(true);
		expect(rest.messages.map((m) => m.data)).toEqual([2]);
		vi.advanceTimersByTime(600);
		expect((await engine.history('a', first)).recovered).toBe(false);
		// Nothing left, but nothing missed either.
		expect((await engine.history('a', { offset: 2, epoch: first.epoch })).recovered).toBe(true);
	});

	it('size 0 keeps no history but still assigns offsets', async () => {
		const { engine } = started({ size: 0 });
		await engine.publish('a', { name: 'x' });
		const position = (await engine.publish('a', { name: 'x' }))!;
		expect(position.offset).toBe(2);
		expect((await engine.history('a', { offset: 1, epoch: position.epoch })).recovered).toBe(false);
		expect((await engine.history('a', position)).recovered).toBe(true);
	});

	it('takes a per-room policy from a function, with defaults for what it leaves out', async () => {
		const { engine } = started((room) => (room.startsWith('chat:') ? { size: 2 } : undefined));
		let chat: StreamPosition | undefined;
		let other: StreamPosition | undefined;
		for (let i = 1; i <= 4; i++) {
			chat = await engine.publish('chat:1', { name: 'x' });
			other = await engine.publish('feed', { name: 'x' });
		}
		expect((await engine.history('chat:1', { offset: 1, epoch: chat!.epoch })).recovered).toBe(
			false
		);
		expect(
			(await engine.history('chat:1', { offset: 2, epoch: chat!.epoch })).messages
		).toHaveLength(2);
		expect(
			(await engine.history('feed', { offset: 0, epoch: other!.epoch })).messages
		).toHaveLength(4);
	});

	it('refuses invalid policies', async () => {
		expect(() => new MemoryEngine({ history: { size: -1 } })).toThrow(TypeError);
		expect(() => new MemoryEngine({ history: { size: 1.5 } })).toThrow(/whole number/);
		expect(() => new MemoryEngine({ history: { ttl: Number.NaN } })).toThrow(/ttl/);
		const { engine } = started(() => ({ size: -3 }));
		await expect(engine.publish('a', { name: 'x' })).rejects.toThrow(/room "a"/);
	});
});

describe('forgetting rooms', () => {
	it('forgets an unsubscribed room with no history left: it starts over with a new epoch', async () => {
		vi.useFakeTimers();
		const { engine } = started({ ttl: 1_000 });
		engine.subscribe('a');
		const before = (await engine.publish('a', { name: 'x' }))!;
		vi.advanceTimersByTime(5_000);
		// Still subscribed: kept, even with its history expired.
		expect((await engine.history('a')).position).toEqual(before);
		engine.unsubscribe('a');
		const after = await engine.history('a', before);
		expect(after.recovered).toBe(false);
		expect(after.position.offset).toBe(0);
		expect(after.position.epoch).not.toBe(before.epoch);
	});

	it('keeps an unsubscribed room while it has history', async () => {
		const { engine } = started();
		engine.subscribe('a');
		const position = (await engine.publish('a', { name: 'x' }))!;
		engine.unsubscribe('a');
		expect((await engine.history('a', { offset: 0, epoch: position.epoch })).recovered).toBe(true);
	});

	it('now and then forgets idle rooms it was never subscribed to', async () => {
		vi.useFakeTimers();
		const { engine } = started({ ttl: 1_000 });
		const idle = (await engine.publish('idle', { name: 'x' }))!;
		vi.advanceTimersByTime(61_000);
		await engine.publish('other', { name: 'x' });
		expect((await engine.history('idle')).position.epoch).not.toBe(idle.epoch);
	});
});

describe('close', () => {
	it('stops delivering', async () => {
		const { engine, delivered } = started();
		await engine.close();
		await engine.publish('a', { name: 'x' });
		expect(delivered).toEqual([]);
	});
});
