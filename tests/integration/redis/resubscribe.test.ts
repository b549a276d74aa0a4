import { afterEach, describe, expect, it } from 'vitest';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { Signal, redisAdmin } from '../../helpers/chaos.js';
import { startRedisServer } from '../../helpers/redis-server.js';

const engines: RedisEngine[] = [];

afterEach(async () => {
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

// The engine resubscribes every room in one SUBSCRIBE when its subscriber (re)connects, and
// reconnects when that fails. A Redis that refuses it every time (here an ACL that does not allow
// one room's channel) must not be asked again every few milliseconds: ioredis starts its own
// reconnection delay from the bottom after every successful connection, so only the engine can
// make the retries back off.

describe('RedisEngine resubscription refused by Redis', { timeout: 30_000 }, () => {
	it('is retried with growing delays, not at ioredis’s first reconnection delay every time', async () => {
		const redis = await startRedisServer();
		const admin = redisAdmin(redis);
		await admin.call(
			'ACL',
			'SETUSER',
			'limited',
			'on',
			'>secret',
			'~*',
			'resetchannels',
			'&runesocket:{allowed}:*',
			'+@all'
		);
		const failedAt: number[] = [];
		const signal = new Signal();
		const engine = new RedisEngine({
			redis: `redis://limited:secret@127.0.0.1:${redis.port}`,
			onError: (error) => {
				if (!/resubscribe/.test(error.message)) return;
				failedAt.push(performance.now());
				signal.changed();
			}
		});
		engines.push(engine);
		await engine.start({ deliver: () => {} });
		await engine.subscribe('allowed');
		// Refused, but remembered: the room still has members, so every resubscription asks for it.
		await expect(engine.subscribe('forbidden')).rejects.toThrow(/NOPERM|permission/i);
		await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');

		await signal.until(() => failedAt.length >= 5, '5 refused resubscriptions', 25_000);
		const waits = failedAt.slice(1).map((at, index) => Math.round(at - failedAt[index]));
		console.log(`resubscribe retries (ms between refusals): ${waits.join(', ')}`);
		// Each wait at least doubles the engine's own delay (100, 200, 400, 800 ms …) on top of
		// ioredis's reconnection: without backoff every wait is ioredis's first delay (50–250 ms).
		expect(waits[3]).toBeGreaterThanOrEqual(800);
		expect(engine.healthy).toBe(false);
	});
});
