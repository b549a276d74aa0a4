import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { Connected, Disconnected } from '../../../src/lib/index.js';
import { RedisEngine, RedisPublisher } from '../../../src/lib/redis/index.js';
import { CHAOS_ROOM as ROOM, Fence, Seq, Signal, tally, watchStream } from '../../kit/chaos.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { startServerProcess } from '../../kit/servers/chaos-server-process.js';
import { startSocketServer } from '../../kit/servers/socket-server.js';
import { nextEvent } from '../../kit/wait.js';

// Issue 17 item 11: reading a room's position for a join created its Redis keys with a 24 h TTL,
// so every room ever joined left a key, published to or not (5,400 joins → 5,400 keys). A room
// never published to now stands at offset 0 of an "unpublished" epoch that Redis does not store,
// and a position read so still recovers the room's first messages.

const RECONNECT = { reconnectDelay: 50, maxReconnectDelay: 250 };
const closing: { close(): Promise<void> }[] = [];

afterEach(async () => {
	await Promise.all(closing.splice(0).map((part) => part.close()));
});

function admin(redis: RedisServer): Redis {
	const client = new Redis(redis.url);
	client.on('error', () => {});
	closing.push({ close: () => client.quit().then(() => undefined) });
	return client;
}

/** Every key in the Redis, by SCAN. */
async function keysIn(redis: Redis): Promise<string[]> {
	const keys: string[] = [];
	let cursor = '0';
	do {
		const [next, batch] = await redis.scan(cursor, 'COUNT', 1_000);
		keys.push(...batch);
		cursor = next;
	} while (cursor != '0');
	return keys;
}

/** A server on `redis` whose route takes 300 rooms per connection, as fast as they come. */
async function serverOn(redis: RedisServer) {
	const engine = new RedisEngine({
		redis: redis.url,
		history: { size: 10_000 },
		onError: () => {}
	});
	return startSocketServer({
		engine,
		routes: [{ path: '/ws', origins: 'any', maxRoomsPerConnection: 300, rateLimit: false }]
	});
}

function publisherOn(redis: RedisServer): RedisPublisher {
	const publisher = new RedisPublisher({ redis: redis.url, history: { size: 10_000 } });
	closing.push(publisher);
	return publisher;
}

describe('rooms never published to', { timeout: 30_000 }, () => {
	it('leave no key in Redis, however many joins and position reads', async () => {
		const redis = await startRedisServer();
		const server = await serverOn(redis);
		const publisher = publisherOn(redis);
		const rooms = Array.from({ length: 300 }, (_, index) => `quiet-${index}`);
		const signal = new Signal();
		let answers = 0;
		const clients = [0, 1].map(() => {
			const client = makeClient(server.url(), RECONNECT);
			client.onMessage((message) => {
				if (message.name != 'room.joined') return;
				answers++;
				signal.changed();
			});
			for (const room of rooms) client.joinRoom(room);
			client.connect();
			return client;
		});
		await signal.until(() => answers == rooms.length * clients.length, '600 join answers');
		const positions = await Promise.all(rooms.map((room) => server.sockets.position(room)));
		const read = await publisher.position(rooms[0]);
		const look = admin(redis);
		expect(await keysIn(look)).toEqual([]);
		// Offset 0 of an epoch Redis does not keep: `~` and the Redis time it was read at.
		for (const position of [read, ...positions]) {
			expect(position).toEqual({ offset: 0, epoch: expect.stringMatching(/^~\d+$/) });
		}

		// The first publish makes the room's keys, and only that room's.
		await publisher.to(rooms[7]).emit(Seq, { n: 1 });
		expect((await keysIn(look)).sort()).toEqual([
			'runesocket:{quiet-7}:history',
			'runesocket:{quiet-7}:position'
		]);
	});

	it('a member joined before the first publish gets it live, and one away recovers it', async () => {
		const redis = await startRedisServer();
		// Two server processes: each reads the room before its first publish, on its own.
		const here = await serverOn(redis);
		const there = await startServerProcess({ REDIS_URL: redis.url });
		const publisher = publisherOn(redis);
		const live = makeClient(there.url, RECONNECT);
		const away = makeClient(here.url(), RECONNECT);
		const liveView = watchStream(live);
		const awayView = watchStream(away);
		for (const client of [live, away]) {
			client.joinRoom(ROOM);
			client.connect();
		}
		await Promise.all([liveView.joined(), awayView.joined()]);

		const disconnected = nextEvent(away, Disconnected, 10_000);
		away.disconnect();
		await disconnected;
		for (let n = 1; n <= 5; n++) await publisher.to(ROOM).emit(Seq, { n });
		await liveView.receivedAtLeast(5);

		// Back with the position it was given before the first publish: it recovers all five.
		const reconnected = nextEvent(away, Connected, 10_000);
		away.connect();
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		for (let n = 6; n <= 8; n++) await publisher.to(ROOM).emit(Seq, { n });
		await publisher.publish(Fence, { at: 1 }, { room: ROOM });
		await Promise.all([liveView.fenced(1), awayView.fenced(1)]);

		const sent = Array.from({ length: 8 }, (_, index) => index + 1);
		for (const view of [liveView, awayView]) {
			const { lost, duplicated, ordered } = tally(sent, view.received);
			expect({ lost, duplicated, ordered }).toEqual({ lost: [], duplicated: [], ordered: true });
			expect(view.unrecoverable).toEqual([]);
		}
		expect(there.crashes, there.log).toEqual([]);
	});
});
