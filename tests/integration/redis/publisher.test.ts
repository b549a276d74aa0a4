import { once } from 'node:events';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ClientMessage, Connected, Disconnected } from '../../../src/lib/index.js';
import { RedisEngine, RedisPublisher } from '../../../src/lib/redis/index.js';
import { CHAOS_ROOM as ROOM, Fence, Gate, Seq, few, tally, watchStream } from '../../kit/chaos.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { startServerProcess } from '../../kit/servers/chaos-server-process.js';
import { startSocketServer } from '../../kit/servers/socket-server.js';
import { nextEvent, within } from '../../kit/wait.js';

// A RedisPublisher publishes from a process that runs no socket server. Its messages must reach
// clients of the servers (other processes, here a child process) with offsets in one sequence with
// the servers' own publishes, stay recoverable from history, and fail fast when Redis is gone.

const publishers: RedisPublisher[] = [];

afterEach(async () => {
	await Promise.all(publishers.splice(0).map((publisher) => publisher.close()));
});

/** The chaos server keeps 10 000 messages per room: the publisher must keep the same. */
function publisherOn(redis: RedisServer, timeout?: number): RedisPublisher {
	const publisher = new RedisPublisher({
		redis: redis.url,
		history: { size: 10_000 },
		timeout,
		onError: () => {}
	});
	publishers.push(publisher);
	return publisher;
}

const RECONNECT = { reconnectDelay: 50, maxReconnectDelay: 250 };

describe('RedisPublisher', { timeout: 60_000 }, () => {
	it('reaches a client of a server process, which recovers what it missed from history', async () => {
		const redis = await startRedisServer();
		const server = await startServerProcess({ REDIS_URL: redis.url });
		const publisher = publisherOn(redis);
		const gate = new Gate();
		const client = makeClient(() => gate.pass(() => server.url), RECONNECT);
		const view = watchStream(client);
		client.joinRoom(ROOM);
		client.connect();
		await view.joined();

		const positions = [];
		for (let n = 1; n <= 20; n++)
			positions.push(await publisher.publish(Seq, { n }, { room: ROOM }));
		await view.receivedAtLeast(20);
		const epoch = positions[0]!.epoch;
		expect(positions).toEqual(positions.map((_, index) => ({ offset: index + 1, epoch })));

		// Away while 30 more go out: they can only come back from the room's history.
		gate.close();
		const disconnected = nextEvent(client, Disconnected, 10_000);
		await server.restart();
		await disconnected;
		for (let n = 21; n <= 50; n++) await publisher.to(ROOM).emit(Seq, { n });
		const reconnected = nextEvent(client, Connected, 30_000);
		gate.open();
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		await publisher.publish(Fence, { at: 1 }, { room: ROOM });
		await view.fenced(1);

		const numbers = Array.from({ length: 50 }, (_, index) => index + 1);
		const result = tally(numbers, view.received);
		expect(result.lost, `lost ${few(result.lost)}`).toEqual([]);
		expect(result.duplicated).toEqual([]);
		expect(result.ordered).toBe(true);
		expect(view.unrecoverable).toEqual([]);
		expect(await publisher.position(ROOM)).toEqual({ offset: 51, epoch });
	});

	it("takes consecutive offsets shared with a server's own publishes", async () => {
		const redis = await startRedisServer();
		const engine = new RedisEngine({ redis: redis.url, onError: () => {} });
		const server = await startSocketServer({
			engine,
			routes: [{ path: '/ws', origins: 'any' }]
		});
		const publisher = publisherOn(redis, undefined);
		const client = makeClient(server.url(), RECONNECT);
		const view = watchStream(client);
		client.joinRoom(ROOM);
		client.connect();
		await view.joined();

		// Odd numbers from the publisher, even ones from the server, all at once.
		await Promise.all(
			Array.from({ length: 40 }, (_, index) => {
				const n = index + 1;
				return n % 2
					? publisher.publish(Seq, { n }, { room: ROOM })
					: server.sockets.publish(Seq, { n }, { room: ROOM });
			})
		);
		await view.receivedAtLeast(40);
		expect([...view.received].sort((a, b) => a - b)).toEqual(
			Array.from({ length: 40 }, (_, index) => index + 1)
		);
		const { position, messages } = await engine.history(ROOM, {
			offset: 0,
			epoch: (await publisher.position(ROOM)).epoch
		});
		expect(position.offset).toBe(40);
		expect(messages.map((message) => message.offset)).toEqual(
			Array.from({ length: 40 }, (_, index) => index + 1)
		);
		// What the client received is the stream's order, whoever published.
		expect(view.received).toEqual(messages.map((message) => (message.data as { n: number }).n));
	});

	it('refuses data its schema rejects, and messages larger than maxMessageSize', async () => {
		const redis = await startRedisServer();
		const publisher = new RedisPublisher({ redis: redis.url, maxMessageSize: 1_000 });
		publishers.push(publisher);
		const Typed = ClientMessage.define('typed', z.object({ n: z.number().int() }));
		await expect(
			publisher.publish(Typed, { n: 'one' } as unknown as { n: number }, { room: ROOM })
		).rejects.toThrow(TypeError);
		await expect(publisher.to(ROOM).emit(Seq, { n: 'x'.repeat(2_000) } as never)).rejects.toThrow(
			RangeError
		);
		// Nothing went out: the room is still at offset 0.
		expect((await publisher.position(ROOM)).offset).toBe(0);
		expect(await publisher.publish(Typed, { n: 1 }, { room: ROOM })).toMatchObject({ offset: 1 });
	});

	it('rejects at once while Redis is down, and publishes again once it is back', async () => {
		const redis = await startRedisServer();
		// The app's own client, so the test can see it reconnect; the publisher leaves it open.
		const connection = new Redis(redis.url, {
			lazyConnect: true,
			enableOfflineQueue: false,
			maxRetriesPerRequest: 0,
			retryStrategy: () => 50
		});
		connection.on('error', () => {});
		const publisher = new RedisPublisher({ redis: connection, timeout: 2_000 });
		publishers.push(publisher);
		try {
			expect(await publisher.publish(Seq, { n: 1 }, { room: ROOM })).toMatchObject({ offset: 1 });
			await redis.kill();
			const refused = await within(
				publisher.publish(Seq, { n: 2 }, { room: ROOM }).then(
					() => undefined,
					(error: Error) => error
				),
				'the publish to settle while Redis is down',
				4_000
			);
			expect(refused?.message).toMatch(/Redis is unavailable/);
			const back = within(once(connection, 'ready'), 'the connection to come back', 10_000);
			await redis.restart();
			await back;
			// Back empty: the room starts again at offset 1, in a new epoch.
			expect(await publisher.publish(Seq, { n: 3 }, { room: ROOM })).toMatchObject({ offset: 1 });
		} finally {
			connection.disconnect();
		}
	});

	it('rejects, without hanging, when Redis never answered its first connection', async () => {
		const redis = await startRedisServer();
		await redis.kill();
		const publisher = publisherOn(redis, 1_000);
		const error = await within(
			publisher.publish(Seq, { n: 1 }, { room: ROOM }).then(
				() => undefined,
				(failure: Error) => failure
			),
			'the first publish to settle',
			3_000
		);
		expect(error?.message).toMatch(/runesocket\/redis: cannot publish to "chaos"/);
	});
});
