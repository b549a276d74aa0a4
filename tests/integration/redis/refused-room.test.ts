import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { DEFAULT_PREFIX, roomKeys } from '../../../src/lib/redis/keys.js';
import { publisherEngine, redisAdmin } from '../../kit/chaos.js';
import { connectRaw, type WsPeer } from '../../kit/peers/ws-peer.js';
import type { Envelope } from '../../kit/envelope.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { startSocketServer } from '../../kit/servers/socket-server.js';

// A room whose channel Redis refuses (an ACL) must cost only that room: its members are told, with
// the `error` a refused join gets (naming the room), and leave it; every other room of the process
// keeps its messages, also across an outage; and joining it again is answered at once, without
// asking Redis again before a delay.

/** An ACL pattern matching exactly the channel of `room` (glob characters escaped). */
const exactChannel = (room: string) =>
	`&${roomKeys(DEFAULT_PREFIX, room).channel.replace(/[*?[\]\\]/g, '\\$&')}`;

/**
 * Lets the user `limited` (password `secret`) use every key and command, and only the channels of
 * these rooms and of the room every connection is in ('*', the server's broadcasts).
 */
async function allowOnly(admin: Redis, rooms: readonly string[]): Promise<void> {
	await admin.call('ACL', 'SETUSER', 'limited', 'on', '>secret', '~*', '+@all');
	const channels = ['*', ...rooms].map(exactChannel);
	await admin.call('ACL', 'SETUSER', 'limited', 'resetchannels', ...channels);
}

/** How many SUBSCRIBE commands Redis was sent so far, refused ones included. */
async function subscribeCalls(admin: Redis): Promise<number> {
	const stats = (await admin.call('INFO', 'commandstats')) as string;
	const line = stats.split('\n').find((entry) => entry.startsWith('cmdstat_subscribe:'));
	const field = (name: string) => Number(new RegExp(`${name}=(\\d+)`).exec(line ?? '')?.[1] ?? 0);
	return field('calls') + field('rejected_calls') + field('failed_calls');
}

/** The first envelope `client` got that `matches`, waiting for it (each arrival wakes the check). */
async function firstMessage(
	client: WsPeer,
	matches: (message: Envelope) => boolean,
	what: string
): Promise<Envelope> {
	for (;;) {
		const found = client.messages.find(matches);
		if (found) return found;
		await client.waitForMessages(client.messages.length + 1).catch(() => {
			throw new Error(`Timed out waiting for ${what}; got ${client.frames.join('\n')}`);
		});
	}
}

/** The first `name` message whose data names `room`. */
function answerFor(client: WsPeer, name: string, room: string): Promise<Envelope> {
	return firstMessage(
		client,
		(message) => message.name == name && (message.data as { room?: unknown }).room == room,
		`"${name}" for ${room}`
	);
}

/** Resolves once `client` got a message of `room` with data `data`. */
async function deliveryOf(client: WsPeer, room: string, data: string): Promise<void> {
	await firstMessage(
		client,
		(message) => message.room == room && message.data == data,
		`"${data}" in ${room}`
	);
}

describe('A room whose channel Redis refuses', { timeout: 30_000 }, () => {
	it('is answered with an error naming it, its members are told when an outage makes Redis refuse it, and every other room keeps its messages', async () => {
		const redis = await startRedisServer();
		const admin = redisAdmin(redis);
		await allowOnly(admin, ['lobby', 'news']);
		const engine = new RedisEngine({
			redis: `redis://limited:secret@127.0.0.1:${redis.port}`,
			onError: () => {}
		});
		const server = await startSocketServer({ engine, routes: [{ path: '/ws' }] });
		const publisher = await publisherEngine(redis);
		const ada = await connectRaw(server.url());
		const bob = await connectRaw(server.url());

		ada.send({ name: 'room.join', data: { room: 'lobby' }, id: 1 });
		expect((await answerFor(ada, 'room.joined', 'lobby')).id).toBe(1);
		bob.send({ name: 'room.join', data: { room: 'vault' }, id: 2 });
		const refusal = await answerFor(bob, 'error', 'vault');
		expect(refusal.id).toBe(2);
		expect(refusal.data).toMatchObject({ room: 'vault', code: 'internal_error' });
		expect(bob.messages.filter((message) => message.name == 'room.joined')).toEqual([]);
		ada.send({ name: 'room.join', data: { room: 'news' }, id: 3 });
		await answerFor(ada, 'room.joined', 'news');

		for (const room of ['lobby', 'vault', 'news']) {
			await publisher.publish(room, { name: 'news', data: `${room} 1` });
		}
		await deliveryOf(ada, 'lobby', 'lobby 1');
		await deliveryOf(ada, 'news', 'news 1');

		// Redis stops allowing 'news' while the engine is subscribed: its next SUBSCRIBE meets it.
		await allowOnly(admin, ['lobby']);
		await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
		const told = await answerFor(ada, 'error', 'news');
		expect(told.id).toBeUndefined();
		expect(told.data).toMatchObject({ room: 'news', code: 'internal_error' });
		for (const room of ['lobby', 'news']) {
			await publisher.publish(room, { name: 'news', data: `${room} 2` });
		}
		await deliveryOf(ada, 'lobby', 'lobby 2');
		expect(ada.messages.some((message) => message.data == 'news 2')).toBe(false);

		// Asked again at once: answered at once, and Redis is not asked again before the delay.
		const calls = await subscribeCalls(admin);
		bob.send({ name: 'room.join', data: { room: 'vault' }, id: 4 });
		bob.send({ name: 'room.join', data: { room: 'vault' }, id: 5 });
		await bob.waitForMessages(bob.messages.length + 2);
		expect(bob.messages.slice(-2).map((message) => [message.name, message.id])).toEqual([
			['error', 4],
			['error', 5]
		]);
		expect(await subscribeCalls(admin)).toBe(calls);
	});
});
