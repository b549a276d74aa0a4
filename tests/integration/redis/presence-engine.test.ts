import { afterEach, describe, expect, it } from 'vitest';
import type { PresenceEntry } from '../../../src/lib/protocol/presence.js';
import type { EnginePresence, PresenceChange } from '../../../src/lib/engine/engine.js';
import { RedisEngine, type RedisEngineOptions } from '../../../src/lib/redis/index.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { redisAdmin, Signal } from '../../kit/chaos.js';
import { within } from '../../kit/wait.js';

const ROOM = 'team:acme';
const engines: RedisEngine[] = [];

afterEach(async () => {
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

/** One process's engine and the presence it heard, as a member's client would apply it. */
interface Process {
	engine: RedisEngine;
	presence: EnginePresence;
	/** The room's presence as its changes built it (what a member of the room here sees). */
	seen: Map<string, PresenceEntry>;
	errors: Error[];
	/** Resolves once `condition` holds on what this process heard. */
	until(condition: () => boolean, what: string): Promise<void>;
}

async function process(redis: RedisServer, options: Partial<RedisEngineOptions> = {}) {
	const seen = new Map<string, PresenceEntry>();
	const errors: Error[] = [];
	const signal = new Signal();
	const engine = new RedisEngine({
		redis: redis.url,
		onError: (error) => errors.push(error),
		...options
	});
	engines.push(engine);
	const apply = (room: string, change: PresenceChange) => {
		if (room != ROOM) return;
		for (const [id, entry] of Object.entries(change.set)) seen.set(id, entry);
		for (const id of change.removed) seen.delete(id);
		signal.changed();
	};
	await engine.start({ deliver: () => {}, presence: apply });
	await engine.subscribe(ROOM);
	const until = (condition: () => boolean, what: string) => signal.until(condition, what, 5_000);
	const result: Process = { engine, presence: engine.presence, seen, errors, until };
	return result;
}

const counts = (seen: Map<string, PresenceEntry>) =>
	Object.fromEntries([...seen].map(([id, entry]) => [id, entry.connections]));

describe('RedisEngine presence', () => {
	it('merges a user’s connections across two processes, the same counts seen by both', async () => {
		const redis = await startRedisServer();
		const [a, b] = [await process(redis), await process(redis)];
		await a.presence.track(ROOM, 'a1', { id: 'ada', data: { name: 'Ada' } });
		await b.presence.track(ROOM, 'b1', { id: 'ada', data: { name: 'Ada' } });
		await b.presence.track(ROOM, 'b2', { id: 'bob', data: { name: 'Bob' } });
		await a.presence.track(ROOM, 'a2', { id: 'ada', data: { name: 'Ada' } });

		const expected = { ada: 3, bob: 1 };
		for (const side of [a, b]) {
			await side.until(() => side.seen.get('ada')?.connections == 3, 'Ada three times');
			expect(counts(side.seen)).toEqual(expected);
		}
		expect(await a.presence.members(ROOM)).toEqual({
			ada: { data: { name: 'Ada' }, connections: 3 },
			bob: { data: { name: 'Bob' }, connections: 1 }
		});
		expect(await b.presence.members(ROOM)).toEqual(await a.presence.members(ROOM));

		await b.presence.untrack(ROOM, 'b2');
		await a.until(() => !a.seen.has('bob'), 'Bob gone');
		await b.presence.untrack(ROOM, 'b1');
		await a.until(() => a.seen.get('ada')?.connections == 2, 'one Ada fewer');
		expect(a.errors).toEqual([]);
		expect(b.errors).toEqual([]);
	});

	it('carries a user whose id is __proto__ to every process, and reads it back', async () => {
		const redis = await startRedisServer();
		const [a, b] = [await process(redis), await process(redis)];
		await a.presence.track(ROOM, 'a1', { id: '__proto__', data: { name: 'Proto' } });
		await b.presence.track(ROOM, 'b1', { id: 'ada' });
		for (const side of [a, b]) {
			await side.until(() => side.seen.has('__proto__') && side.seen.has('ada'), 'both users');
		}
		const members = await b.presence.members(ROOM);
		expect(Object.keys(members).sort()).toEqual(['__proto__', 'ada']);
		expect(members['__proto__']).toEqual({ data: { name: 'Proto' }, connections: 1 });
		await a.presence.untrack(ROOM, 'a1');
		await b.until(() => !b.seen.has('__proto__'), 'Proto gone');
	});

	it('hands over the whole set after each gap, consistent with the changes that keep coming', async () => {
		const redis = await startRedisServer();
		const [a, b] = [await process(redis), await process(redis)];
		const admin = redisAdmin(redis);
		await a.presence.track(ROOM, 'a1', { id: 'ada' });
		// B tracks a new user at a time while the subscribers are cut again and again: each cut makes
		// A read the whole set, and B's changes keep coming while it does.
		let cutting = true;
		let tracked = 0;
		const tracking = (async () => {
			for (; cutting; tracked++) {
				await b.presence.track(ROOM, `b${tracked}`, { id: `user${tracked}` });
			}
		})();
		for (let cut = 0; cut < 10; cut++) {
			const back = within(
				new Promise<void>((resolve) => {
					const off = a.engine.onHealthChange((healthy) => healthy && (off(), resolve()));
				}),
				'A’s subscriber back'
			);
			await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
			await back;
		}
		cutting = false;
		await tracking;
		const users = Object.keys(await a.presence.members(ROOM));
		expect(users).toHaveLength(tracked + 1);
		await a.until(() => a.seen.size == users.length, `all ${users.length} users, as A heard them`);
	});

	it('drops an entry whose untrack failed while Redis was down, though a later track renews the process', async () => {
		const redis = await startRedisServer({ persistent: true });
		// Long: the entry left behind must go because the engine removes it, not because it expired.
		const a = await process(redis, { presenceTtl: 60_000 });
		await a.presence.track(ROOM, 'a1', { id: 'ada' });
		await a.until(() => a.seen.has('ada'), 'Ada');

		await redis.kill();
		await expect(a.presence.untrack(ROOM, 'a1')).rejects.toThrow();
		const back = within(
			new Promise<void>((resolve) => {
				const off = a.engine.onHealthChange((healthy) => healthy && (off(), resolve()));
			}),
			'the engine back'
		);
		await redis.restart();
		await back;
		await a.presence.track(ROOM, 'a2', { id: 'bob' });
		await a.until(() => !a.seen.has('ada') && a.seen.has('bob'), 'Ada gone, Bob there');
		expect(Object.keys(await a.presence.members(ROOM))).toEqual(['bob']);
	});

	it('tells a user gone after a gap though this process only ever read it (a state), never heard it', async () => {
		const redis = await startRedisServer();
		const b = await process(redis);
		await b.presence.track(ROOM, 'b1', { id: 'bob' });
		// A starts after Bob came: its members learn of him from the set it reads, as a state.
		const a = await process(redis);
		await a.presence.track(ROOM, 'a1', { id: 'ada' });
		for (const [id, entry] of Object.entries(await a.presence.members(ROOM))) a.seen.set(id, entry);
		expect([...a.seen.keys()].sort()).toEqual(['ada', 'bob']);

		await redis.kill();
		// Bob leaves while Redis is down; Redis comes back empty.
		await expect(b.presence.untrack(ROOM, 'b1')).rejects.toThrow();
		await redis.restart();
		await a.until(() => !a.seen.has('bob') && a.seen.has('ada'), 'Bob gone, Ada there');
	});

	it('removes a closed process’s entries and announces them to the others', async () => {
		const redis = await startRedisServer();
		const [a, b] = [await process(redis), await process(redis)];
		await a.presence.track(ROOM, 'a1', { id: 'ada' });
		await a.presence.track(ROOM, 'a2', { id: 'cy' });
		await b.presence.track(ROOM, 'b1', { id: 'ada' });
		await b.until(() => b.seen.get('ada')?.connections == 2 && b.seen.has('cy'), 'all of them');

		await a.engine.close();
		await b.until(() => b.seen.get('ada')?.connections == 1 && !b.seen.has('cy'), 'A’s gone');
		expect(await b.presence.members(ROOM)).toEqual({ ada: { data: null, connections: 1 } });
	});

	it('tracks its connections again when Redis lost them, and hands over the whole set', async () => {
		const redis = await startRedisServer();
		const a = await process(redis, { presenceTtl: 600 });
		await a.presence.track(ROOM, 'a1', { id: 'ada' });
		await a.presence.track(ROOM, 'a2', { id: 'bob' });
		await a.presence.untrack(ROOM, 'a2');
		await a.until(() => a.seen.size == 1, 'Ada alone');

		const down = new Promise<void>((resolve) => {
			const off = a.engine.onHealthChange((healthy) => healthy || (off(), resolve()));
		});
		await redis.restart();
		await within(down, 'the engine to notice');
		a.seen.clear();
		// Redis came back empty: the engine tracks Ada again and hands the server the whole set.
		await a.until(() => a.seen.get('ada')?.connections == 1, 'the current set');
		expect(counts(a.seen)).toEqual({ ada: 1 });
		expect(await a.presence.members(ROOM)).toEqual({ ada: { data: null, connections: 1 } });
	});
});
