// RedisEngine history: recovery after a position, epochs, and what a room keeps (size, ttl,
// retention) in Redis.
import { describe, expect, it } from 'vitest';
import { roomKeys } from '../../../src/lib/redis/keys.js';
import type { StreamPosition } from '../../../src/lib/index.js';
import { redisAdmin } from '../../kit/chaos.js';
import { engineProcess, inRoom } from '../../kit/redis-engines.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { within } from '../../kit/wait.js';

describe('RedisEngine history', () => {
	it('recovers every message after a position, and tells when it cannot', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		const b = await engineProcess(redis);
		await a.engine.subscribe('h');
		const fresh = await b.engine.history('h');
		expect(fresh).toEqual({
			recovered: true,
			position: { offset: 0, epoch: expect.stringMatching(/^~\d+$/) },
			messages: []
		});
		let position: StreamPosition | undefined;
		for (let i = 1; i <= 5; i++) position = await a.engine.publish('h', { name: 'h', data: i });
		const delivered = await a.received(inRoom('h'), 5);
		// The position handed out before any publish recovers everything from the first message.
		expect(await b.engine.history('h', fresh.position)).toEqual({
			recovered: true,
			position,
			messages: delivered.map((d) => d.message)
		});

		const since2 = await b.engine.history('h', { offset: 2, epoch: position!.epoch });
		expect(since2).toEqual({
			recovered: true,
			position,
			messages: delivered.slice(2).map((d) => d.message)
		});
		expect(await b.engine.history('h', position)).toEqual({
			recovered: true,
			position,
			messages: []
		});
		for (const since of [
			{ offset: 2, epoch: 'other-epoch' },
			{ offset: 6, epoch: position!.epoch },
			{ offset: -1, epoch: position!.epoch },
			{ epoch: position!.epoch } as unknown as StreamPosition
		]) {
			expect(await b.engine.history('h', since)).toEqual({
				recovered: false,
				position,
				messages: []
			});
		}
	});

	// Issue 11: a Redis Cluster replica promoted before it had the last writes moves a room back in
	// the same epoch; its next publishes would reuse offsets clients saw, and they would drop them.
	it('starts a new epoch when a room is behind a position this process delivered, never for a client', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		let position: StreamPosition | undefined;
		for (let i = 1; i <= 5; i++) position = await a.engine.publish('r', { name: 'r', data: i });
		const { epoch } = position!;
		// What a promoted replica that missed the last two writes looks like.
		await redisAdmin(redis).hset(roomKeys('runesocket:', 'r').position, 'offset', 3);

		const fromClient = await a.engine.history('r', { offset: 5, epoch });
		expect(fromClient).toEqual({ recovered: false, position: { offset: 3, epoch }, messages: [] });

		const delivered = await a.engine.history('r', { offset: 5, epoch }, { delivered: true });
		expect(delivered.recovered).toBe(false);
		expect(delivered.position.offset).toBe(3);
		expect(delivered.position.epoch).not.toBe(epoch);
		const next = await a.engine.publish('r', { name: 'r', data: 6 });
		expect(next).toEqual({ offset: 4, epoch: delivered.position.epoch });
		// The old epoch's stream went with it: nothing from before can be replayed into the new one.
		expect(
			await a.engine.history('r', { offset: 3, epoch: delivered.position.epoch })
		).toMatchObject({
			recovered: true,
			messages: [expect.objectContaining({ data: 6, offset: 4 })]
		});
	});

	// Issue 17 item 11: every read of a room created its position key (24 h), published to or not.
	it('reads a room never published to without writing, and recovers its first epoch only for a position read before it began', async () => {
		const redis = await startRedisServer();
		const retention = 60_000;
		const a = await engineProcess(redis, { retention });
		const look = redisAdmin(redis);
		const redisNow = async () => {
			const [seconds, micros] = await look.time();
			return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
		};
		const before = (await a.engine.history('quiet')).position;
		expect(before).toEqual({ offset: 0, epoch: expect.stringMatching(/^~\d+$/) });
		// Still nothing published: a position read then needs nothing, and nothing was written.
		expect(await a.engine.history('quiet', before)).toMatchObject({
			recovered: true,
			messages: []
		});
		expect(await look.dbsize()).toBe(0);

		const now = await redisNow();
		const tooOld = { offset: 0, epoch: `~${now - retention}` };
		const future = { offset: 0, epoch: `~${now + 60_000}` };
		for (const since of [tooOld, future]) {
			// Too old (an epoch may have begun and expired since) or forged from the future.
			expect((await a.engine.history('quiet', since)).recovered).toBe(false);
		}

		for (let i = 1; i <= 3; i++) await a.engine.publish('quiet', { name: 'q', data: i });
		const recovered = await a.engine.history('quiet', before);
		expect(recovered.recovered).toBe(true);
		expect(recovered.messages.map((message) => message.data)).toEqual([1, 2, 3]);
		// Read after the epoch began (as no read can be, unless forged) or too long before it: not its.
		const later = { offset: 0, epoch: `~${(await redisNow()) + 1}` };
		for (const since of [later, tooOld, { offset: 1, epoch: before.epoch }]) {
			expect(await a.engine.history('quiet', since)).toMatchObject({
				recovered: false,
				messages: []
			});
		}
		// An epoch that began more than `retention` after the read may have followed a lost one.
		await look.hset(roomKeys('runesocket:', 'quiet').position, 'born', now + retention + 1);
		expect((await a.engine.history('quiet', before)).recovered).toBe(false);
	});

	it('keeps the last `size` messages per room, trimming the stream', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis, {
			history: (room) => (room == 'small' ? { size: 3 } : room == 'none' ? { size: 0 } : undefined)
		});
		let position: StreamPosition | undefined;
		for (let i = 1; i <= 300; i++)
			position = await a.engine.publish('small', { name: 's', data: i });
		const { epoch } = position!;
		expect((await a.engine.history('small', { offset: 296, epoch })).recovered).toBe(false);
		const kept = await a.engine.history('small', { offset: 297, epoch });
		expect(kept.recovered).toBe(true);
		expect(kept.messages.map((m) => m.data)).toEqual([298, 299, 300]);
		expect(await redisAdmin(redis).xlen('runesocket:{small}:history')).toBeLessThan(300);

		await a.engine.publish('none', { name: 'n' });
		const none = (await a.engine.publish('none', { name: 'n' }))!;
		expect(none.offset).toBe(2);
		expect((await a.engine.history('none', { offset: 1, epoch: none.epoch })).recovered).toBe(
			false
		);
		expect((await a.engine.history('none', none)).recovered).toBe(true);
		expect(await redisAdmin(redis).exists('runesocket:{none}:history')).toBe(0);
	});

	it('keeps each message `ttl` ms (by the Redis clock) and lets the keys expire', async () => {
		const redis = await startRedisServer();
		const ttl = 400;
		const a = await engineProcess(redis, { history: { ttl }, retention: 60_000 });
		const look = redisAdmin(redis);
		const first = (await a.engine.publish('t', { name: 't', data: 1 }))!;
		const [[firstId]] = (await look.xrange('runesocket:{t}:history', '-', '+')) as [
			string,
			string[]
		][];
		// Wait (polling the Redis clock, which stream ids follow) until the first message is ttl old.
		const expiresAt = Number(firstId.split('-')[0]) + ttl;
		await within(
			(async () => {
				for (;;) {
					const [seconds, micros] = await look.time();
					if (Number(seconds) * 1000 + Math.floor(Number(micros) / 1000) >= expiresAt) return;
					await new Promise((resolve) => setTimeout(resolve, 20));
				}
			})(),
			'the first message to be ttl old'
		);
		await a.engine.publish('t', { name: 't', data: 2 });
		expect((await a.engine.history('t', { offset: 0, epoch: first.epoch })).recovered).toBe(false);
		const rest = await a.engine.history('t', first);
		expect(rest.recovered).toBe(true);
		expect(rest.messages.map((m) => m.data)).toEqual([2]);
		const historyTtl = await look.pttl('runesocket:{t}:history');
		expect(historyTtl).toBeGreaterThan(0);
		expect(historyTtl).toBeLessThanOrEqual(ttl);
		const positionTtl = await look.pttl('runesocket:{t}:position');
		expect(positionTtl).toBeGreaterThan(ttl);
		expect(positionTtl).toBeLessThanOrEqual(60_000);
	});

	it('starts a new epoch when Redis lost the room (its keys expired or were evicted)', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis, { prefix: 'app:' });
		const before = (await a.engine.publish('gone', { name: 'g' }))!;
		await redisAdmin(redis).del('app:{gone}:position');
		const after = (await a.engine.publish('gone', { name: 'g' }))!;
		expect(after.offset).toBe(1);
		expect(after.epoch).not.toBe(before.epoch);
		expect((await a.engine.history('gone', before)).recovered).toBe(false);
		// The stale stream went with the old epoch.
		expect(await redisAdmin(redis).xlen('app:{gone}:history')).toBe(1);
	});

	it('sees a gap in the stream even when the position survived', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		const first = (await a.engine.publish('gap', { name: 'g' }))!;
		await redisAdmin(redis).del('runesocket:{gap}:history');
		await a.engine.publish('gap', { name: 'g' });
		expect((await a.engine.history('gap', { offset: 0, epoch: first.epoch })).recovered).toBe(
			false
		);
		expect((await a.engine.history('gap', first)).messages).toHaveLength(1);
	});
});
