// RedisEngine between server processes on one Redis: who gets a room's messages, their offsets
// whichever process publishes, and the messages carried untouched.
import { describe, expect, it } from 'vitest';
import type { StreamPosition } from '../../../src/lib/index.js';
import { redisAdmin } from '../../kit/chaos.js';
import { engineProcess, inRoom, named } from '../../kit/redis-engines.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';

describe('RedisEngine between two processes', () => {
	it('delivers to the processes that subscribed the room, and only to them', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		const b = await engineProcess(redis);
		await b.engine.subscribe('r1');
		await a.engine.subscribe('marker');
		await b.engine.subscribe('marker');

		await a.engine.publish('r2', { name: 'not-for-b' });
		await a.engine.publish('r1', { name: 'for-b' }, { except: 'conn-7' });
		await a.engine.publish('marker', { name: 'marker-1' });
		await b.received(named('marker-1'), 1, 'marker-1 on B');
		await a.received(named('marker-1'), 1, 'marker-1 on A');

		// Redis delivers one connection's publishes in order: anything for r1/r2 came before the marker.
		expect(
			b.delivered.map((d) => [d.room, (d.message as { name: string }).name, d.except])
		).toEqual([
			['r1', 'for-b', 'conn-7'],
			['marker', 'marker-1', undefined]
		]);
		expect(a.delivered.map((d) => d.room)).toEqual(['marker']);

		await b.engine.unsubscribe('r1');
		await a.engine.publish('r1', { name: 'after-leave' });
		await a.engine.publish('marker', { name: 'marker-2' });
		await b.received(named('marker-2'), 1, 'marker-2 on B');
		expect(b.delivered.filter(inRoom('r1'))).toHaveLength(1);
	});

	it('numbers a room consistently whichever process publishes', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		const b = await engineProcess(redis);
		await a.engine.subscribe('room');
		await b.engine.subscribe('room');

		const positions: (StreamPosition | undefined)[] = [];
		positions.push(await a.engine.publish('room', { name: 'm', data: 1 }));
		positions.push(await b.engine.publish('room', { name: 'm', data: 2 }));
		positions.push(await a.engine.publish('room', { name: 'm', data: 3 }));
		expect(positions.map((p) => p?.offset)).toEqual([1, 2, 3]);
		const epoch = positions[0]!.epoch;
		expect(epoch).toMatch(/^[\w-]{8,}$/);
		expect(positions.every((p) => p?.epoch == epoch)).toBe(true);

		for (const side of [a, b]) {
			const got = await side.received(inRoom('room'), 3, 'three room messages');
			expect(got.map((d) => d.message)).toEqual([
				{ name: 'm', data: 1, offset: 1, epoch },
				{ name: 'm', data: 2, offset: 2, epoch },
				{ name: 'm', data: 3, offset: 3, epoch }
			]);
		}
		expect(await a.engine.history('room')).toEqual(await b.engine.history('room'));
	});

	it('gives 200 concurrent publishes from two processes the offsets 1..200, once each, in delivery order', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		const b = await engineProcess(redis);
		await b.engine.subscribe('busy');
		const publishes = Array.from({ length: 200 }, (_, i) =>
			(i % 2 ? a : b).engine.publish('busy', { name: 'n', data: i })
		);
		const positions = await Promise.all(publishes);
		const offsets = positions.map((p) => p!.offset).sort((x, y) => x - y);
		expect(offsets).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
		expect(new Set(positions.map((p) => p!.epoch)).size).toBe(1);
		const delivered = await b.received(inRoom('busy'), 200, '200 busy messages');
		expect(delivered.map((d) => (d.message as { offset: number }).offset)).toEqual(offsets);
	});

	// A lone surrogate goes to Redis as U+FFFD: such rooms shared keys, and their channel never
	// matched the name subscribed, so nothing was delivered. Their names are escaped now.
	it('keeps rooms apart whose names differ only in lone surrogates, and delivers to them', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		const rooms = ['\uD800', '\uD801', 'x\uDFFF'];
		for (const room of rooms) await a.engine.subscribe(room);
		for (const room of rooms) {
			expect(await a.engine.publish(room, { name: 'lone', data: room })).toMatchObject({
				offset: 1
			});
		}
		const delivered = await a.received(named('lone'), rooms.length);
		expect(
			delivered.map(({ room, message }) => [room, (message as { data: string }).data])
		).toEqual(rooms.map((room) => [room, room]));
	});

	it('carries the JSON untouched: empty arrays, large numbers, unicode', async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		await a.engine.subscribe('json');
		const message = {
			name: 'json',
			data: {
				list: [],
				nested: { empty: [], obj: {} },
				big: 2 ** 60,
				float: 0.1,
				text: 'é ✓ "q" \n'
			}
		};
		const position = (await a.engine.publish('json', message))!;
		const [delivery] = await a.received(inRoom('json'));
		const expected = { ...JSON.parse(JSON.stringify(message)), offset: 1, epoch: position.epoch };
		expect(delivery.message).toEqual(expected);
		expect(JSON.stringify((delivery.message as { data: unknown }).data)).toBe(
			JSON.stringify(message.data)
		);
		const history = await a.engine.history('json', { offset: 0, epoch: position.epoch });
		expect(history.messages).toEqual([expected]);
		// An empty object gets its fields too; the message's own offset/epoch are replaced.
		await a.engine.publish('json', {});
		await a.engine.publish('json', { offset: 'mine', epoch: 'mine', name: 'x' });
		const more = await a.received(inRoom('json'), 3);
		expect(more.slice(1).map((d) => d.message)).toEqual([
			{ offset: 2, epoch: position.epoch },
			{ name: 'x', offset: 3, epoch: position.epoch }
		]);
	});

	it("delivers non-object messages and the room '*' as they are, without offsets or history", async () => {
		const redis = await startRedisServer();
		const a = await engineProcess(redis);
		const b = await engineProcess(redis);
		await b.engine.subscribe('*');
		await b.engine.subscribe('plain');
		expect(await a.engine.publish('*', { name: 'all' }, { except: 'c1' })).toBeUndefined();
		for (const message of ['text', 7, null, [1, []]]) {
			expect(await a.engine.publish('plain', message)).toBeUndefined();
		}
		const all = await b.received(() => true, 5, 'five deliveries');
		expect(all).toEqual([
			{ room: '*', message: { name: 'all' }, except: 'c1' },
			{ room: 'plain', message: 'text', except: undefined },
			{ room: 'plain', message: 7, except: undefined },
			{ room: 'plain', message: null, except: undefined },
			{ room: 'plain', message: [1, []], except: undefined }
		]);
		expect((await a.engine.publish('plain', { name: 'first' }))?.offset).toBe(1);
		expect(await a.engine.history('*', { offset: 0, epoch: '' })).toEqual({
			recovered: false,
			position: { offset: 0, epoch: '' },
			messages: []
		});
		expect(await redisAdmin(redis).keys('runesocket:{\\*}*')).toEqual([]);
	});
});
