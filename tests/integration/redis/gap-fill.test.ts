import { describe, expect, it } from 'vitest';
import {
	CHAOS_ROOM as ROOM,
	Publisher,
	expectAlive,
	expectAnswering,
	few,
	publishFence,
	publisherEngine,
	redisAdmin,
	report,
	seqThrough,
	watchStream
} from '../../kit/chaos.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { startServerProcess } from '../../kit/servers/chaos-server-process.js';
import { TcpProxy } from '../../kit/servers/tcp-proxy.js';

// Defect 10 of issue 8: after Redis trouble the subscriber may be back before the command
// connection. A gap-fill whose history read then failed was retried in a microtask loop (the read
// rejects at once while the command connection is down), so timers and I/O never ran again and
// the process hung for good. Here the server process reaches Redis through a proxy that drops any
// connection sending a Lua script (only the command connection does), and its subscriber is cut,
// so it must fill a gap while every history read fails.

/** The history read of RedisEngine: a Lua script, sent by EVALSHA (or EVAL) in RESP. */
const HISTORY_READ = /\r\nevalsha?\r\n|\r\neval\r\n/i;

const RECONNECT = { reconnectDelay: 50, maxReconnectDelay: 250 };

describe('gap fill while the command connection is down', { timeout: 60_000 }, () => {
	it('the server keeps answering, retries on a timer, and fills the gap once Redis answers again', async () => {
		const redis = await startRedisServer();
		const proxy = await TcpProxy.start(redis.port);
		const server = await startServerProcess({ REDIS_URL: `redis://127.0.0.1:${proxy.port}` });
		const engine = await publisherEngine(redis);
		const client = makeClient(server.url, RECONNECT);
		const view = watchStream(client);
		client.joinRoom(ROOM);
		client.connect();
		await view.joined();

		// Slow enough that what waits behind the gap stays far below the server's bound on it.
		const publisher = new Publisher(seqThrough(engine), 10);
		await view.receivedAtLeast(50);
		proxy.cutWhen(HISTORY_READ);
		// The subscriber is cut: what is published until it resubscribed never reaches the server by
		// pub/sub, so its resync (and the next live message) must read history, which fails.
		const killed = Number(await redisAdmin(redis).call('CLIENT', 'KILL', 'TYPE', 'pubsub'));
		expect(killed).toBeGreaterThanOrEqual(1);
		await proxy.cutAtLeast(1, 10_000);
		await expectAnswering(server, 'after its first history read failed');
		// The reads go on, on a timer: the command connection had time to reconnect in between.
		await proxy.cutAtLeast(2, 10_000);
		await expectAnswering(server, 'while its history reads keep failing');
		const failedReads = proxy.cuts;
		proxy.cutWhen(undefined);

		await publisher.reach(publisher.sent.length + 100);
		await publisher.stop();
		await publishFence(engine, 1);
		await view.fenced(1);

		const result = report('gap-fill', publisher.numbers, view.received);
		console.log(
			`chaos gap-fill (detail): ${failedReads} history reads failed before Redis answered`
		);
		expect.soft(result.lost.length, `lost ${few(result.lost)}`).toBe(0);
		expect.soft(result.duplicated.length, `duplicated ${few(result.duplicated)}`).toBe(0);
		expect.soft(result.ordered, 'in order').toBe(true);
		expect(view.unrecoverable).toEqual([]);
		expectAlive(server);
	});
});
