import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { EngineCommand } from '../../../src/lib/engine/engine.js';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { controlChannel, userSlotsKey } from '../../../src/lib/redis/keys.js';
import { Signal } from '../../kit/chaos.js';
import { closedAfterTest } from '../../kit/redis-engines.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { until } from '../../kit/wait.js';

// The RedisEngine's control channel (`command`) and per-user slots (`userSlots`), engine to
// engine: two engines stand for two server processes on one fresh redis-server.

const PREFIX = 'runesocket:';
const clients: Redis[] = [];

afterEach(() => {
	for (const client of clients.splice(0)) client.disconnect();
});

/** A started engine recording the commands and errors it hands on. */
async function commandEngine(redis: RedisServer, presenceTtl?: number) {
	const commands: EngineCommand[] = [];
	const errors: Error[] = [];
	const signal = new Signal();
	const engine = closedAfterTest(
		new RedisEngine({
			redis: redis.url,
			presenceTtl,
			onError: (error) => {
				errors.push(error);
				signal.changed();
			}
		})
	);
	await engine.start({
		deliver: () => {},
		command: (command) => {
			commands.push(command);
			signal.changed();
		}
	});
	const until = (check: () => boolean, what: string) => signal.until(check, what, 5_000);
	return { engine, commands, errors, until };
}

/** A plain client of the test's own, disconnected after it. */
function plainClient(redis: RedisServer): Redis {
	const client = new Redis(redis.url);
	clients.push(client);
	return client;
}

const revokeAda: EngineCommand = {
	type: 'disconnect-user',
	userId: 'ada',
	code: 4004,
	reason: 'Session revoked'
};

describe('RedisEngine commands', () => {
	it('runs a command here at once and on the other process once, never twice here', async () => {
		const redis = await startRedisServer();
		const [a, b] = [await commandEngine(redis), await commandEngine(redis)];
		const sent = a.engine.command(revokeAda);
		expect(a.commands).toEqual([revokeAda]);
		await sent;
		await b.until(() => b.commands.length == 1, 'B to get the command');
		expect(b.commands).toEqual([revokeAda]);
		await a.engine.command({ type: 'reauthorize-user', userId: 'bob' });
		await b.until(() => b.commands.length == 2, 'B to get the second command');
		// B's command reaches A after A's own two on the one channel: A heard those, and skipped them.
		await b.engine.command({ type: 'reauthorize-user', userId: 'cy' });
		await a.until(() => a.commands.length == 3, 'A to get B’s command');
		expect(a.commands.map((command) => command.userId)).toEqual(['ada', 'bob', 'cy']);
		expect(a.errors).toEqual([]);
	});

	it('reports an unreadable control message and goes on', async () => {
		const redis = await startRedisServer();
		const b = await commandEngine(redis);
		const client = plainClient(redis);
		await client.publish(controlChannel(PREFIX), 'not json');
		await client.publish(controlChannel(PREFIX), '{"from":"x","command":{"type":"reboot"}}');
		await b.until(() => b.errors.length == 2, 'two errors');
		expect(b.errors.map((error) => error.message)).toEqual([
			expect.stringMatching(/SyntaxError|JSON/i),
			expect.stringMatching(/unknown control command/)
		]);
		await client.publish(controlChannel(PREFIX), JSON.stringify({ from: 'x', command: revokeAda }));
		await b.until(() => b.commands.length == 1, 'the readable command');
	});

	it('rejects a command while Redis is down, after running it here', async () => {
		const redis = await startRedisServer();
		const a = await commandEngine(redis);
		await redis.kill();
		await until(() => a.engine.healthy == false, 'the engine to see Redis gone');
		await expect(a.engine.command(revokeAda)).rejects.toThrow(/Redis is unavailable/);
		expect(a.commands).toEqual([revokeAda]);
	});
});

describe('RedisEngine user slots', () => {
	it('never hands out more than max slots to claims racing from two processes', async () => {
		const redis = await startRedisServer();
		const [a, b] = [await commandEngine(redis), await commandEngine(redis)];
		const answers = await Promise.all(
			Array.from({ length: 20 }, (_, index) =>
				(index % 2 ? a : b).engine.userSlots.claim('key', `c${index}`, 3)
			)
		);
		expect(answers.filter(Boolean)).toHaveLength(3);
		const holder = answers.findIndex(Boolean);
		await (holder % 2 ? a : b).engine.userSlots.release('key', `c${holder}`);
		expect(await a.engine.userSlots.claim('key', 'late', 3)).toBe(true);
		expect(await b.engine.userSlots.claim('key', 'later', 3)).toBe(false);
	});

	it('writes its slots again after Redis lost them, and lets the key expire once released', async () => {
		const ttl = 600;
		const redis = await startRedisServer();
		const a = await commandEngine(redis, ttl);
		const client = plainClient(redis);
		const key = userSlotsKey(PREFIX, 'ada');
		expect(await a.engine.userSlots.claim('ada', 'one', 2)).toBe(true);
		expect(await a.engine.userSlots.claim('ada', 'two', 2)).toBe(true);
		expect(Number(await client.pttl(key))).toBeGreaterThan(0);
		await client.flushall();
		await until(async () => (await client.zcard(key)) == 2, 'the renewal to write both again', {
			ms: ttl * 3,
			everyMs: 20
		});
		await a.engine.userSlots.release('ada', 'one');
		await a.engine.userSlots.release('ada', 'two');
		expect(await client.exists(key)).toBe(0);
	});
});
