import { Redis } from 'ioredis';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisEngine, type RedisEngineOptions } from '../../../src/lib/redis/index.js';
import { roomKeys } from '../../../src/lib/redis/keys.js';
import type { StreamPosition } from '../../../src/lib/index.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { within } from '../../kit/wait.js';
import { Signal } from '../../kit/chaos.js';

interface Delivery {
	room: string;
	message: unknown;
	except?: string;
}

/** One process's engine, what it delivered, its resyncs, health changes and errors. */
interface Process {
	engine: RedisEngine;
	delivered: Delivery[];
	resyncs: number;
	health: boolean[];
	errors: Error[];
	/** Resolves with the deliveries once `count` of them match. */
	received(
		match: (delivery: Delivery) => boolean,
		count?: number,
		what?: string
	): Promise<Delivery[]>;
	/** Resolves once `healthy` is `value`. */
	healthy(value: boolean): Promise<void>;
	/** Resolves once `condition` holds (checked after each delivery, resync or health change). */
	until(condition: () => boolean, what: string, ms?: number): Promise<void>;
}

const engines: RedisEngine[] = [];
const admins: Redis[] = [];

afterEach(async () => {
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
	await Promise.all(admins.splice(0).map((admin) => admin.quit().catch(() => admin.disconnect())));
	vi.restoreAllMocks();
});

/** A started engine on `redis`, closed after the test. */
async function process(
	redis: RedisServer,
	options: Partial<RedisEngineOptions> = {}
): Promise<Process> {
	const errors: Error[] = [];
	const signal = new Signal();
	const wake = () => signal.changed();
	const engine = new RedisEngine({
		redis: redis.url,
		onError: (error) => {
			errors.push(error);
			wake();
		},
		...options
	});
	engines.push(engine);
	const until = (condition: () => boolean, what: string, ms = 5_000) =>
		signal.until(condition, what, ms);
	const self: Process = {
		engine,
		delivered: [],
		resyncs: 0,
		health: [],
		errors,
		until,
		received: async (match, count = 1, what = 'deliveries') => {
			await until(() => self.delivered.filter(match).length >= count, `${count} × ${what}`);
			return self.delivered.filter(match);
		},
		healthy: (value) => until(() => engine.healthy == value, `healthy == ${value}`, 10_000)
	};
	engine.onHealthChange((healthy) => {
		self.health.push(healthy);
		wake();
	});
	await engine.start({
		deliver: (room, message, except) => {
			self.delivered.push({ room, message, except });
			wake();
		},
		resync: () => {
			self.resyncs++;
			wake();
		}
	});
	return self;
}

/** A plain client on the test's Redis, to look at keys. */
function admin(redis: RedisServer): Redis {
	const client = new Redis(redis.url, { lazyConnect: false });
	client.on('error', () => {});
	admins.push(client);
	return client;
}

const inRoom = (room: string) => (delivery: Delivery) => delivery.room == room;
const named = (name: string) => (delivery: Delivery) =>
	(delivery.message as { name?: string } | null)?.name == name;

describe('RedisEngine between two processes', () => {
	it('delivers to the processes that subscribed the room, and only to them', async () => {
		const redis = await startRedisServer();
		const a = await process(redis);
		const b = await process(redis);
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
		const a = await process(redis);
		const b = await process(redis);
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
		const a = await process(redis);
		const b = await process(redis);
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
		const a = await process(redis);
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
		const a = await process(redis);
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
		const a = await process(redis);
		const b = await process(redis);
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
		expect(await admin(redis).keys('runesocket:{\\*}*')).toEqual([]);
	});
});

describe('RedisEngine history', () => {
	it('recovers every message after a position, and tells when it cannot', async () => {
		const redis = await startRedisServer();
		const a = await process(redis);
		const b = await process(redis);
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
		const a = await process(redis);
		let position: StreamPosition | undefined;
		for (let i = 1; i <= 5; i++) position = await a.engine.publish('r', { name: 'r', data: i });
		const { epoch } = position!;
		// What a promoted replica that missed the last two writes looks like.
		await admin(redis).hset(roomKeys('runesocket:', 'r').position, 'offset', 3);

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
		const a = await process(redis, { retention });
		const look = admin(redis);
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
		const a = await process(redis, {
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
		expect(await admin(redis).xlen('runesocket:{small}:history')).toBeLessThan(300);

		await a.engine.publish('none', { name: 'n' });
		const none = (await a.engine.publish('none', { name: 'n' }))!;
		expect(none.offset).toBe(2);
		expect((await a.engine.history('none', { offset: 1, epoch: none.epoch })).recovered).toBe(
			false
		);
		expect((await a.engine.history('none', none)).recovered).toBe(true);
		expect(await admin(redis).exists('runesocket:{none}:history')).toBe(0);
	});

	it('keeps each message `ttl` ms (by the Redis clock) and lets the keys expire', async () => {
		const redis = await startRedisServer();
		const ttl = 400;
		const a = await process(redis, { history: { ttl }, retention: 60_000 });
		const look = admin(redis);
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
		const a = await process(redis, { prefix: 'app:' });
		const before = (await a.engine.publish('gone', { name: 'g' }))!;
		await admin(redis).del('app:{gone}:position');
		const after = (await a.engine.publish('gone', { name: 'g' }))!;
		expect(after.offset).toBe(1);
		expect(after.epoch).not.toBe(before.epoch);
		expect((await a.engine.history('gone', before)).recovered).toBe(false);
		// The stale stream went with the old epoch.
		expect(await admin(redis).xlen('app:{gone}:history')).toBe(1);
	});

	it('sees a gap in the stream even when the position survived', async () => {
		const redis = await startRedisServer();
		const a = await process(redis);
		const first = (await a.engine.publish('gap', { name: 'g' }))!;
		await admin(redis).del('runesocket:{gap}:history');
		await a.engine.publish('gap', { name: 'g' });
		expect((await a.engine.history('gap', { offset: 0, epoch: first.epoch })).recovered).toBe(
			false
		);
		expect((await a.engine.history('gap', first)).messages).toHaveLength(1);
	});
});

describe('RedisEngine under Redis trouble', () => {
	it('fails fast while Redis is down, then resubscribes, resyncs and starts a new epoch', async () => {
		const unhandled = vi.spyOn(console, 'error');
		const redis = await startRedisServer();
		const a = await process(redis);
		const b = await process(redis);
		await b.engine.subscribe('live');
		const before = (await a.engine.publish('live', { name: 'before' }))!;
		await b.received(named('before'));
		expect([a.engine.healthy, b.engine.healthy]).toEqual([true, true]);
		expect(b.resyncs).toBe(0);

		await redis.kill();
		const started = Date.now();
		const failed = await a.engine.publish('live', { name: 'lost' }).then(
			() => undefined,
			(error: Error) => error
		);
		expect(failed).toBeInstanceOf(Error);
		expect(failed!.message).toMatch(
			/^runesocket\/redis: cannot publish to "live": Redis is unavailable \(/
		);
		expect(Date.now() - started).toBeLessThan(1_000);
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
		expect(Date.now() - started).toBeLessThan(3_000);
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
		const engine = new RedisEngine({ redis: redis.url, onError: () => {} });
		engines.push(engine);
		await expect(engine.start({ deliver: () => {} })).rejects.toThrow(
			/^runesocket\/redis: cannot connect to Redis: /
		);
		expect(engine.healthy).toBe(false);
		await expect(engine.publish('r', { name: 'x' })).rejects.toThrow(/the engine is closed/);
	});

	it('reconnects a subscriber that stops answering its pings, then resyncs', async () => {
		const redis = await startRedisServer();
		const a = await process(redis, { pingInterval: 200 });
		await a.engine.subscribe('ping');
		const look = admin(redis);
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
		const look = admin(redis);
		await look.ping();
		const clients = async () =>
			String(await look.client('LIST'))
				.trim()
				.split('\n').length;
		const alone = await clients();
		const a = await process(redis);
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
		const own = admin(redis);
		const engine = new RedisEngine({ redis: own, onError: () => {} });
		engines.push(engine);
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
