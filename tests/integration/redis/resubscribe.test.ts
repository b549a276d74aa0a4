import { Cluster, type Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { DEFAULT_PREFIX, roomKeys } from '../../../src/lib/redis/keys.js';
import { Signal, publisherEngine, redisAdmin } from '../../kit/chaos.js';
import { startRedisCluster } from '../../kit/servers/redis-cluster.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';

const engines: RedisEngine[] = [];
const clusters: Cluster[] = [];

afterEach(async () => {
	vi.useRealTimers();
	vi.restoreAllMocks();
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
	for (const cluster of clusters.splice(0)) cluster.disconnect();
});

const channelOf = (room: string) => roomKeys(DEFAULT_PREFIX, room).channel;

/** Lets the user `limited` (password `secret`) use every key and command, and only these rooms' channels. */
async function allowOnly(admin: Redis, rooms: readonly string[]): Promise<void> {
	const channels = rooms.map((room) => `&${channelOf(room)}`);
	await admin.call('ACL', 'SETUSER', 'limited', 'on', '>secret', '~*', '+@all');
	await admin.call('ACL', 'SETUSER', 'limited', 'resetchannels', ...channels);
}

/** How many SUBSCRIBE commands Redis was sent so far, refused ones included. */
async function subscribeCalls(admin: Redis): Promise<number> {
	const stats = (await admin.call('INFO', 'commandstats')) as string;
	const line = stats.split('\n').find((entry) => entry.startsWith('cmdstat_subscribe:'));
	if (!line) return 0;
	const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(line)?.[1] ?? 0);
	return field('calls') + field('rejected_calls') + field('failed_calls');
}

/** An engine logged in as `limited`, recording deliveries, refused rooms, resyncs and errors. */
async function limitedEngine(redis: RedisServer) {
	const signal = new Signal();
	const delivered: string[] = [];
	const refused: string[] = [];
	const errors: Error[] = [];
	let resyncs = 0;
	const engine = new RedisEngine({
		redis: `redis://limited:secret@127.0.0.1:${redis.port}`,
		onError: (error) => {
			errors.push(error);
			signal.changed();
		}
	});
	engines.push(engine);
	engine.onHealthChange(() => signal.changed());
	await engine.start({
		deliver: (room) => {
			delivered.push(room);
			signal.changed();
		},
		resync: () => {
			resyncs++;
			signal.changed();
		},
		refused: (room) => {
			refused.push(room);
			signal.changed();
		}
	});
	return {
		engine,
		signal,
		delivered,
		refused,
		errors,
		get resyncs() {
			return resyncs;
		}
	};
}

describe('RedisEngine and a room whose channel Redis refuses', { timeout: 30_000 }, () => {
	it('gives up only that room: rooms subscribed before and after it are resubscribed after an outage and keep receiving', async () => {
		const redis = await startRedisServer();
		const admin = redisAdmin(redis);
		await allowOnly(admin, ['before', 'after']);
		const limited = await limitedEngine(redis);
		const publisher = await publisherEngine(redis);

		await limited.engine.subscribe('before');
		await expect(limited.engine.subscribe('forbidden')).rejects.toThrow(/NOPERM/);
		await limited.engine.subscribe('after');

		await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
		await limited.signal.until(() => limited.resyncs == 1, 'the resync after the outage');
		expect(limited.engine.healthy).toBe(true);
		for (const room of ['before', 'forbidden', 'after']) {
			await publisher.publish(room, { name: 'news', data: room });
		}
		await limited.signal.until(
			() => limited.delivered.includes('before') && limited.delivered.includes('after'),
			'the messages of both allowed rooms'
		);
		expect(limited.delivered).not.toContain('forbidden');
		expect(limited.refused).toEqual(['forbidden']);
	});

	it('a room refused when resubscribing after an outage is given up and reported; the others resync and keep receiving', async () => {
		const redis = await startRedisServer();
		const admin = redisAdmin(redis);
		await allowOnly(admin, ['one', 'two', 'three']);
		const limited = await limitedEngine(redis);
		const publisher = await publisherEngine(redis);
		for (const room of ['one', 'two', 'three']) await limited.engine.subscribe(room);

		// The ACL changes while the engine is subscribed: only its next SUBSCRIBE meets it.
		await allowOnly(admin, ['one', 'three']);
		await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
		await limited.signal.until(() => limited.resyncs == 1, 'the resync after the outage');

		expect(limited.refused).toEqual(['two']);
		expect(limited.errors.map((error) => error.message).join('\n')).toMatch(
			/cannot subscribe "two": Redis refused its channel/
		);
		expect(limited.engine.healthy).toBe(true);
		for (const room of ['one', 'two', 'three']) {
			await publisher.publish(room, { name: 'news', data: room });
		}
		await limited.signal.until(
			() => limited.delivered.includes('one') && limited.delivered.includes('three'),
			'the messages of the rooms still allowed'
		);
		expect(limited.delivered).not.toContain('two');
	});

	it('is asked for again only after a delay that doubles, not at every subscribe', async () => {
		vi.useFakeTimers({ toFake: ['Date'] });
		const redis = await startRedisServer();
		const admin = redisAdmin(redis);
		await allowOnly(admin, ['allowed']);
		const limited = await limitedEngine(redis);
		await limited.engine.subscribe('allowed');
		const calls = await subscribeCalls(admin);

		await expect(limited.engine.subscribe('forbidden')).rejects.toThrow(/after 1000 ms/);
		for (let attempt = 0; attempt < 50; attempt++) {
			await expect(limited.engine.subscribe('forbidden')).rejects.toThrow(/refused its channel/);
		}
		expect(await subscribeCalls(admin)).toBe(calls + 1);
		expect(limited.refused).toHaveLength(51);

		vi.setSystemTime(Date.now() + 1_000);
		await expect(limited.engine.subscribe('forbidden')).rejects.toThrow(/after 2000 ms/);
		expect(await subscribeCalls(admin)).toBe(calls + 2);

		// Allowed again: the next attempt after the delay subscribes it.
		await allowOnly(admin, ['allowed', 'forbidden']);
		vi.setSystemTime(Date.now() + 2_000);
		await limited.engine.subscribe('forbidden');
	});
});

describe(
	'RedisEngine on a Redis Cluster and a room whose channel Redis refuses',
	{ timeout: 30_000 },
	() => {
		it('gives up only that room after an outage: the others are subscribed again and ioredis no longer lists it', async () => {
			const cluster = await startRedisCluster();
			const allow = async (rooms: readonly string[]) => {
				const channels = rooms.map((room) => `&${channelOf(room)}`);
				for (const { port } of cluster.nodes) {
					await cluster.cli(port, 'acl', 'setuser', 'limited', 'on', '>secret', '~*', '+@all');
					await cluster.cli(port, 'acl', 'setuser', 'limited', 'resetchannels', ...channels);
				}
			};
			await allow(['one', 'two', 'three']);
			const duplicates = vi.spyOn(Cluster.prototype, 'duplicate');
			const commands = new Cluster([...cluster.nodes], {
				lazyConnect: true,
				redisOptions: { username: 'limited', password: 'secret' }
			});
			commands.on('error', () => {});
			clusters.push(commands);
			const signal = new Signal();
			const delivered: string[] = [];
			const refused: string[] = [];
			let resyncs = 0;
			const engine = new RedisEngine({ redis: commands, onError: () => {} });
			engines.push(engine);
			const subscriber = duplicates.mock.results[0].value as Cluster;
			await commands.connect();
			await engine.start({
				deliver: (room) => void (delivered.push(room), signal.changed()),
				resync: () => void (resyncs++, signal.changed()),
				refused: (room) => void refused.push(room)
			});
			for (const room of ['one', 'two', 'three']) await engine.subscribe(room);
			await expect(engine.subscribe('vault')).rejects.toThrow(/NOPERM/);

			await allow(['one', 'three']);
			for (const { port } of cluster.nodes) {
				await cluster.cli(port, 'client', 'kill', 'type', 'pubsub');
			}
			await signal.until(() => resyncs >= 1 && engine.healthy, 'the resync after the outage');
			expect(refused).toEqual(['vault', 'two']);

			const publisher = new RedisEngine({
				redis: { cluster: [...cluster.nodes] },
				onError: () => {}
			});
			engines.push(publisher);
			await publisher.start({ deliver: () => {} });
			for (const room of ['one', 'two', 'three']) {
				await publisher.publish(room, { name: 'news', data: room });
			}
			await signal.until(
				() => delivered.includes('one') && delivered.includes('three'),
				'the messages of the rooms still allowed'
			);
			expect(delivered).not.toContain('two');
			const record = (
				subscriber as unknown as { shardedSubscribers: { channels: Map<number, string[]> } }
			).shardedSubscribers.channels;
			expect([...record.values()].flat().sort()).toEqual(
				[channelOf('one'), channelOf('three')].sort()
			);
		});
	}
);

// The engine resubscribes every room in one SUBSCRIBE when its subscriber (re)connects, and
// reconnects when that fails for another reason than a refused channel (which only gives that room
// up). A Redis that refuses it every time (here a user no longer allowed to SUBSCRIBE at all) must
// not be asked again every few milliseconds: ioredis starts its own reconnection delay from the
// bottom after every successful connection, so only the engine can make the retries back off.

describe('RedisEngine resubscription refused by Redis', { timeout: 30_000 }, () => {
	it('is retried with growing delays, not at ioredis’s first reconnection delay every time', async () => {
		const redis = await startRedisServer();
		const admin = redisAdmin(redis);
		await allowOnly(admin, ['allowed']);
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
		await admin.call('ACL', 'SETUSER', 'limited', '-subscribe');
		await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');

		await signal.until(() => failedAt.length >= 5, '5 refused resubscriptions', 25_000);
		const waits = failedAt.slice(1).map((at, index) => Math.round(at - failedAt[index]));
		console.log(`resubscribe retries (ms between refusals): ${waits.join(', ')}`);
		// Each wait is the engine's own delay (100, 200, 400, 800 ms …) plus ioredis's reconnection
		// and the refused SUBSCRIBE: without backoff every wait is that same overhead. The overhead
		// cancels out of the difference between two waits, so the growth shows however slow the
		// machine: the fourth wait is 700 ms longer than the first (500 leaves room for noise).
		expect(waits[3]).toBeGreaterThanOrEqual(800);
		expect(waits[3] - waits[0]).toBeGreaterThanOrEqual(500);
		expect(waits[2] - waits[0]).toBeGreaterThanOrEqual(150);
		expect(engine.healthy).toBe(false);
	});
});
