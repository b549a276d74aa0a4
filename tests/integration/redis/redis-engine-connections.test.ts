// RedisEngine and its Redis connections: failing fast while Redis is down and coming back, a stuck
// subscriber, and the connections it opens and quits (or leaves to the app).
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineError } from '../../../src/lib/engine/errors.js';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { redisAdmin } from '../../kit/chaos.js';
import { closedAfterTest, engineProcess, named } from '../../kit/redis-engines.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { within } from '../../kit/wait.js';

/** A command timeout no test reaches (tests time out after 15 s). */
const LONGER_THAN_THE_TEST = 600_000;

afterEach(() => {
	vi.restoreAllMocks();
});

describe('RedisEngine under Redis trouble', () => {
	it('fails fast while Redis is down, then resubscribes, resyncs and starts a new epoch', async () => {
		const unhandled = vi.spyOn(console, 'error');
		const redis = await startRedisServer();
		// No command gives up before the test does: every rejection below is the fast "Redis is
		// unavailable", not a command that waited for its deadline.
		const a = await engineProcess(redis, { timeout: LONGER_THAN_THE_TEST });
		const b = await engineProcess(redis, { timeout: LONGER_THAN_THE_TEST });
		await b.engine.subscribe('live');
		const before = (await a.engine.publish('live', { name: 'before' }))!;
		await b.received(named('before'));
		expect([a.engine.healthy, b.engine.healthy]).toEqual([true, true]);
		expect(b.resyncs).toBe(0);

		await redis.kill();
		const failed = await a.engine.publish('live', { name: 'lost' }).then(
			() => undefined,
			(error: Error) => error
		);
		expect(failed).toBeInstanceOf(Error);
		expect(failed!.message).toMatch(
			/^runesocket\/redis: cannot publish to "live": Redis is unavailable \(/
		);
		expect(failed!.cause).not.toBeInstanceOf(DeadlineError);
		await a.healthy(false);
		await b.healthy(false);
		await expect(a.engine.publish('live', { name: 'lost' })).rejects.toThrow(
			/^runesocket\/redis: cannot publish to "live": Redis is unavailable \(/
		);
		await expect(a.engine.history('live')).rejects.toThrow(/Redis is unavailable/);
		// A room joined while Redis is down is refused now but subscribed once it is back.
		await expect(b.engine.subscribe('joined-while-down')).rejects.toThrow(
			/cannot subscribe "joined-while-down": Redis is unavailable/
		);
		// Reconnection attempts fail (ECONNREFUSED): reported, never thrown.
		await a.until(() => a.errors.length > 0, 'a connection error on A');
		await b.until(() => b.errors.length > 0, 'a connection error on B');

		await redis.restart();
		await a.healthy(true);
		await b.healthy(true);
		await b.until(() => b.resyncs > 0, 'resync on B');
		expect(b.resyncs).toBe(1);
		expect(a.resyncs).toBe(1);
		expect(b.health).toEqual([true, false, true]);

		const after = (await a.engine.publish('live', { name: 'after' }))!;
		await a.engine.publish('joined-while-down', { name: 'late' });
		await b.received(named('after'), 1, 'after on B');
		await b.received(named('late'), 1, 'late on B');
		// The restarted Redis lost everything: a new epoch, and the old position cannot be recovered.
		expect(after.offset).toBe(1);
		expect(after.epoch).not.toBe(before.epoch);
		const recovery = await b.engine.history('live', before);
		expect(recovery).toEqual({ recovered: false, position: after, messages: [] });

		expect(a.errors.some((error) => /ECONNREFUSED/.test(error.message))).toBe(true);
		expect(unhandled.mock.calls.flat().join(' ')).not.toMatch(/Unhandled error event/);
	});

	it('rejects start with a clear error when Redis cannot be reached', async () => {
		const redis = await startRedisServer();
		await redis.kill();
		const engine = closedAfterTest(new RedisEngine({ redis: redis.url, onError: () => {} }));
		await expect(engine.start({ deliver: () => {} })).rejects.toThrow(
			/^runesocket\/redis: cannot connect to Redis: /
		);
		expect(engine.healthy).toBe(false);
		await expect(engine.publish('r', { name: 'x' })).rejects.toThrow(/the engine is closed/);
	});

	it('reconnects a subscriber that stops answering its pings, then resyncs', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis, { pingInterval: 200 });
		await a.engine.subscribe('ping');
		const look = redisAdmin(redis);
		await look.client('PAUSE', 1_000, 'ALL');
		await a.healthy(false);
		await a.healthy(true);
		await a.until(() => a.resyncs > 0, 'resync');
		expect(a.errors.map((error) => error.message).join('\n')).toMatch(/keep the subscriber alive/);
		await a.engine.publish('ping', { name: 'pong' });
		await a.received(named('pong'));
	});
});

describe('RedisEngine connections', () => {
	it('quits both of its connections on close', async () => {
		const redis = await startRedisServer();
		const look = redisAdmin(redis);
		await look.ping();
		const clients = async () =>
			String(await look.client('LIST'))
				.trim()
				.split('\n').length;
		const alone = await clients();
		const a = await engineProcess(redis);
		await a.engine.subscribe('r');
		expect(await clients()).toBe(alone + 2);
		await a.engine.close();
		await within(
			(async () => {
				while ((await clients()) != alone) await new Promise((r) => setTimeout(r, 10));
			})(),
			'the connections to go'
		);
		expect(a.engine.healthy).toBe(false);
		expect(a.health.at(-1)).toBe(false);
	});

	it("uses the app's own client for commands and leaves it open", async () => {
		const redis = await startRedisServer();
		const own = redisAdmin(redis);
		const engine = closedAfterTest(new RedisEngine({ redis: own, onError: () => {} }));
		let delivered: (message: unknown) => void = () => {};
		const delivery = new Promise<unknown>((resolve) => (delivered = resolve));
		await engine.start({ deliver: (_room, message) => delivered(message) });
		await engine.subscribe('mine');
		const position = await engine.publish('mine', { name: 'x' });
		expect(await within(delivery, 'the delivery')).toEqual({ name: 'x', ...position });
		await engine.close();
		expect(own.status).toBe('ready');
		expect(await own.exists('runesocket:{mine}:position')).toBe(1);
	});
});
