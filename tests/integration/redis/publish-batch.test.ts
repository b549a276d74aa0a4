import { afterEach, describe, expect, it } from 'vitest';
import { RedisEngine, type RedisEngineOptions } from '../../../src/lib/redis/index.js';
import type { StreamPosition } from '../../../src/lib/index.js';
import { redisAdmin } from '../../kit/chaos.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { within } from '../../kit/wait.js';

// RedisEngine sends the publishes of one event-loop turn together: consecutive publishes to a room
// become one command (one publish-script run, or one PUBLISH for messages without offsets) and the
// turn's commands go in one pipeline. These tests hold it to the guarantees of single publishes:
// offsets +1 per room in call order, each room's order across kinds, bounded runs, the script
// sent whole when Redis forgot it, and failures that stay with their own publishes.

interface Delivery {
	room: string;
	message: unknown;
}

const engines: RedisEngine[] = [];

afterEach(async () => {
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

/** A started engine on `redis` that records its deliveries; closed after the test. */
async function startEngine(redis: RedisServer, options: Partial<RedisEngineOptions> = {}) {
	const delivered: Delivery[] = [];
	let wake = () => {};
	const engine = new RedisEngine({ redis: redis.url, onError: () => {}, ...options });
	engines.push(engine);
	await engine.start({
		deliver: (room, message) => {
			delivered.push({ room, message });
			wake();
		}
	});
	const received = (room: string, count: number) =>
		within(
			new Promise<unknown[]>((resolve) => {
				const check = () => {
					const inRoom = delivered.filter((delivery) => delivery.room == room);
					if (inRoom.length >= count) resolve(inRoom.map((delivery) => delivery.message));
				};
				wake = check;
				check();
			}),
			`${count} deliveries in "${room}"`
		);
	return { engine, received };
}

/** How many times Redis ran `command` so far (INFO commandstats). */
async function calls(redis: RedisServer, command: string): Promise<number> {
	const info = await redisAdmin(redis).info('commandstats');
	return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(info)?.[1] ?? 0);
}

const offsetsOf = (positions: (StreamPosition | undefined)[]) => positions.map((p) => p?.offset);
const range = (from: number, to: number) =>
	Array.from({ length: to - from + 1 }, (_, index) => from + index);

describe('RedisEngine publishes of one turn', { timeout: 20_000 }, () => {
	it('go to a room in one script run: consecutive offsets, one channel message, in order', async () => {
		const redis = await startRedisServer();
		const publisher = await startEngine(redis);
		const other = await startEngine(redis);
		await other.engine.subscribe('batch');
		const channel = redisAdmin(redis);
		const channelMessages: string[] = [];
		channel.on('message', (_channel: string, text: string) => channelMessages.push(text));
		await channel.subscribe('runesocket:{batch}:messages');
		const scriptRunsBefore = await calls(redis, 'evalsha');

		const positions = await Promise.all(
			range(1, 20).map((n) => publisher.engine.publish('batch', { name: 'n', data: n }))
		);

		expect(offsetsOf(positions)).toEqual(range(1, 20));
		expect(new Set(positions.map((p) => p?.epoch)).size).toBe(1);
		expect((await calls(redis, 'evalsha')) - scriptRunsBefore).toBe(1);
		const delivered = await other.received('batch', 20);
		expect(delivered.map((message) => (message as { data: number }).data)).toEqual(range(1, 20));
		expect(delivered.map((message) => (message as { offset: number }).offset)).toEqual(
			range(1, 20)
		);
		expect(channelMessages).toHaveLength(1);
		const history = await other.engine.history('batch', { offset: 0, epoch: positions[0]!.epoch });
		expect(history.messages).toEqual(delivered);
	});

	it("keep each room's order across kinds of message, and split long runs", async () => {
		const redis = await startRedisServer();
		const a = await startEngine(redis);
		await a.engine.subscribe('mixed');
		await a.engine.subscribe('long');
		const scriptRunsBefore = await calls(redis, 'evalsha');

		const mixed = ['o1', 'o2', 'text', 7, 'o3'].map((value) =>
			a.engine.publish(
				'mixed',
				typeof value == 'string' && value[0] == 'o' ? { name: value } : value
			)
		);
		const long = range(1, 300).map((n) => a.engine.publish('long', { name: 'l', data: n }));
		const [mixedPositions, longPositions] = await Promise.all([
			Promise.all(mixed),
			Promise.all(long)
		]);

		expect(offsetsOf(mixedPositions)).toEqual([1, 2, undefined, undefined, 3]);
		expect(offsetsOf(longPositions)).toEqual(range(1, 300));
		// mixed: [o1 o2] and [o3] (the plain messages between them are one PUBLISH); long: 128 + 128 + 44.
		expect((await calls(redis, 'evalsha')) - scriptRunsBefore).toBe(5);
		const epoch = mixedPositions[0]!.epoch;
		expect(await a.received('mixed', 5)).toEqual([
			{ name: 'o1', offset: 1, epoch },
			{ name: 'o2', offset: 2, epoch },
			'text',
			7,
			{ name: 'o3', offset: 3, epoch }
		]);
		const longDelivered = await a.received('long', 300);
		expect(longDelivered.map((message) => (message as { data: number }).data)).toEqual(
			range(1, 300)
		);
	});

	it('send the script whole when Redis forgot it, and run it once', async () => {
		const redis = await startRedisServer();
		const a = await startEngine(redis);
		await a.engine.subscribe('r1');
		expect((await a.engine.publish('r1', { name: 'first' }))?.offset).toBe(1);
		await redisAdmin(redis).script('FLUSH');
		const evalsBefore = await calls(redis, 'eval');

		const positions = await Promise.all([
			a.engine.publish('r1', { name: 'x' }),
			a.engine.publish('r2', { name: 'y' }),
			a.engine.publish('r1', { name: 'z' })
		]);

		expect(offsetsOf(positions)).toEqual([2, 1, 3]);
		expect((await calls(redis, 'eval')) - evalsBefore).toBe(2);
		const names = (await a.received('r1', 3)).map((message) => (message as { name: string }).name);
		expect(names).toEqual(['first', 'x', 'z']);
		expect(await redisAdmin(redis).xlen('runesocket:{r1}:history')).toBe(3);
	});

	it('fail alone: a room whose history policy throws does not fail the rest of the turn', async () => {
		const redis = await startRedisServer();
		const a = await startEngine(redis, {
			history: (room) => (room == 'broken' ? { size: -1 } : undefined)
		});
		const [broken, fine] = await Promise.allSettled([
			a.engine.publish('broken', { name: 'x' }),
			a.engine.publish('fine', { name: 'y' })
		]);
		expect(broken.status).toBe('rejected');
		expect((broken as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
		expect(fine).toEqual({ status: 'fulfilled', value: { offset: 1, epoch: expect.any(String) } });
	});

	it('all fail after `timeout` when Redis does not answer, naming their room', async () => {
		const redis = await startRedisServer();
		const a = await startEngine(redis, { timeout: 300 });
		await redisAdmin(redis).client('PAUSE', 1_500, 'WRITE');
		const outcomes = await Promise.allSettled([
			a.engine.publish('p1', { name: 'x' }),
			a.engine.publish('p2', 'plain')
		]);
		expect(outcomes.map((outcome) => (outcome as PromiseRejectedResult).reason?.message)).toEqual([
			'runesocket/redis: cannot publish to "p1": Redis did not answer within 300 ms',
			'runesocket/redis: cannot publish to "p2": Redis did not answer within 300 ms'
		]);
	});
});
