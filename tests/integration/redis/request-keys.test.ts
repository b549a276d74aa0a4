import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import type { RequestKeyLimits, RequestKeyState } from '../../../src/lib/engine/engine.js';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { requestKeyNames } from '../../../src/lib/redis/keys.js';
import { closedAfterTest } from '../../kit/redis-engines.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { until } from '../../kit/wait.js';

// The RedisEngine's request keys (`engine.requestKeys`), store to store: each engine stands for a
// server process (its own connection) on one fresh redis-server.

const PREFIX = 'runesocket:';
const LIMITS: RequestKeyLimits = {
	window: 600_000,
	lease: 30_000,
	maxKeys: 1_000,
	maxBytes: 1_048_576
};
const clients: Redis[] = [];

afterEach(() => {
	for (const client of clients.splice(0)) client.disconnect();
});

async function startedEngine(redis: RedisServer): Promise<RedisEngine> {
	const engine = closedAfterTest(new RedisEngine({ redis: redis.url, onError: () => {} }));
	await engine.start({ deliver: () => {} });
	return engine;
}

function keysOf(engine: RedisEngine) {
	const keys = engine.requestKeys;
	if (!keys) throw new Error('RedisEngine has no requestKeys');
	return keys;
}

function plainClient(redis: RedisServer): Redis {
	const client = new Redis(redis.url);
	clients.push(client);
	return client;
}

const answer = (n: number) => JSON.stringify(['reply', { n }]);
const states = (found: RequestKeyState[]) => found.map((state) => state.state).sort();

describe('RedisEngine request keys', () => {
	it('of claims racing on one key from two processes, one is claimed, the others see it running, then all its answer', async () => {
		const redis = await startRedisServer();
		const engines = [await startedEngine(redis), await startedEngine(redis)].map(keysOf);
		let round = 0;
		await fc.assert(
			fc.asyncProperty(
				fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 2, maxLength: 6 }),
				async (callers) => {
					const key = `k${round++}`;
					const found = await Promise.all(
						callers.map((engine) => engines[engine].claim('/ws ada', key, LIMITS))
					);
					expect(states(found)).toEqual(['claimed', ...callers.slice(1).map(() => 'running')]);
					const winner = found.findIndex((state) => state.state == 'claimed');
					await engines[callers[winner]].settle('/ws ada', key, answer(round), LIMITS);
					const repeats = await Promise.all(
						callers.map((engine) => engines[engine].claim('/ws ada', key, LIMITS))
					);
					for (const repeat of repeats) {
						expect(repeat).toEqual({ state: 'answered', answer: answer(round) });
					}
				}
			),
			{ numRuns: 60 }
		);
		// The figure for the notes: a claim and a settle, one after the other, on this machine.
		const timings: number[] = [];
		for (let n = 0; n < 200; n++) {
			const start = performance.now();
			await engines[0].claim('/ws timed', `t${n}`, LIMITS);
			timings.push(performance.now() - start);
			await engines[0].settle('/ws timed', `t${n}`, answer(n), LIMITS);
		}
		timings.sort((x, y) => x - y);
		console.log(
			`request key claim: p50 ${timings[100].toFixed(2)} ms, p99 ${timings[198].toFixed(2)} ms (200, scope of up to 200 answers)`
		);
	});

	it('keeps the first answer when a key is settled twice, and one scope’s keys are not another’s', async () => {
		const redis = await startRedisServer();
		const [a, b] = [keysOf(await startedEngine(redis)), keysOf(await startedEngine(redis))];
		expect(await a.claim('/ws ada', 'k', LIMITS)).toEqual({ state: 'claimed' });
		await a.settle('/ws ada', 'k', answer(1), LIMITS);
		await b.settle('/ws ada', 'k', answer(2), LIMITS);
		expect(await b.claim('/ws ada', 'k', LIMITS)).toEqual({ state: 'answered', answer: answer(1) });
		// Braces would end a hash tag written as it is: scopes go hashed, every one its own.
		for (const scope of ['/ws }', '/ws {', '/ws {ada}', '}{', '', '/ws \uD800', '/ws \uD801']) {
			expect(await b.claim(scope, 'k', LIMITS), scope).toEqual({ state: 'claimed' });
		}
	});

	it('lets a running claim be taken again once its lease (Redis time) ends, not before', async () => {
		const redis = await startRedisServer();
		const [a, b] = [keysOf(await startedEngine(redis)), keysOf(await startedEngine(redis))];
		const limits = { ...LIMITS, lease: 300 };
		const claimedAt = performance.now();
		expect(await a.claim('/ws ada', 'k', limits)).toEqual({ state: 'claimed' });
		expect(await b.claim('/ws ada', 'k', limits)).toEqual({ state: 'running' });
		let last: RequestKeyState = { state: 'running' };
		await until(
			async () => (last = await b.claim('/ws ada', 'k', limits)).state != 'running',
			'the lease to end',
			{ ms: 3_000, everyMs: 20 }
		);
		expect(last).toEqual({ state: 'claimed' });
		expect(performance.now() - claimedAt).toBeGreaterThanOrEqual(limits.lease - 5);
		// The dead process's answer comes late: the first answer settled is the one kept.
		await b.settle('/ws ada', 'k', answer(2), limits);
		await a.settle('/ws ada', 'k', answer(1), limits);
		expect(await a.claim('/ws ada', 'k', limits)).toEqual({ state: 'answered', answer: answer(2) });
	});

	it('forgets an answer once its window ends, and the scope’s keys expire with it', async () => {
		const redis = await startRedisServer();
		const keys = keysOf(await startedEngine(redis));
		const client = plainClient(redis);
		const limits = { ...LIMITS, window: 300, lease: 200 };
		const names = Object.values(requestKeyNames(PREFIX, '/ws ada'));
		await keys.claim('/ws ada', 'k', limits);
		await keys.settle('/ws ada', 'k', answer(1), limits);
		expect(await keys.claim('/ws ada', 'k', limits)).toEqual({
			state: 'answered',
			answer: answer(1)
		});
		for (const name of names.slice(1)) {
			const ttl = await client.pttl(name);
			expect(ttl, name).toBeGreaterThan(0);
			expect(ttl, name).toBeLessThanOrEqual(300);
		}
		await until(async () => (await client.exists(...names)) == 0, 'the scope’s keys to expire', {
			ms: 3_000,
			everyMs: 20
		});
		expect(await keys.claim('/ws ada', 'k', limits)).toEqual({ state: 'claimed' });
		// A claim alone lives as long as the longer of window and lease.
		expect(await client.pttl(names[0])).toBeGreaterThan(0);
	});

	it('keeps at most maxKeys answers and maxBytes of them per scope, the oldest going first', async () => {
		const redis = await startRedisServer();
		const keys = keysOf(await startedEngine(redis));
		const client = plainClient(redis);
		const size = Buffer.byteLength(answer(0));
		const byCount = { ...LIMITS, maxKeys: 3 };
		for (let n = 0; n < 5; n++) await keys.settle('/ws count', `k${n}`, answer(n), byCount);
		const byBytes = { ...LIMITS, maxBytes: size * 2 + 1 };
		for (let n = 0; n < 5; n++) await keys.settle('/ws bytes', `k${n}`, answer(n), byBytes);
		const kept = async (scope: string, limits: RequestKeyLimits) => {
			const found = [];
			for (let n = 0; n < 5; n++) found.push((await keys.claim(scope, `k${n}`, limits)).state);
			return found;
		};
		expect(await kept('/ws count', byCount)).toEqual([
			'claimed',
			'claimed',
			'answered',
			'answered',
			'answered'
		]);
		const bytes = requestKeyNames(PREFIX, '/ws bytes').bytes;
		expect(Number(await client.get(bytes))).toBe(size * 2);
		expect(await kept('/ws bytes', byBytes)).toEqual([
			'claimed',
			'claimed',
			'claimed',
			'answered',
			'answered'
		]);
	});

	it('keeps an answer larger than maxBytes as answer_not_kept, without evicting the others', async () => {
		const redis = await startRedisServer();
		const keys = keysOf(await startedEngine(redis));
		const limits = { ...LIMITS, maxBytes: 1_000 };
		await keys.settle('/ws ada', 'small', answer(1), limits);
		await keys.claim('/ws ada', 'big', limits);
		await keys.settle('/ws ada', 'big', JSON.stringify(['reply', 'x'.repeat(2_000)]), limits);
		const big = await keys.claim('/ws ada', 'big', limits);
		expect(big.state).toBe('answered');
		const [name, data] = JSON.parse((big as { answer: string }).answer) as [string, unknown];
		expect(name).toBe('error');
		expect(data).toMatchObject({ code: 'answer_not_kept', message: expect.stringMatching(/2012/) });
		expect(await keys.claim('/ws ada', 'small', limits)).toEqual({
			state: 'answered',
			answer: answer(1)
		});
	});

	it('releases a claim, so the next repeat claims it; fails fast and named while Redis is down', async () => {
		const redis = await startRedisServer();
		const engine = await startedEngine(redis);
		const keys = keysOf(engine);
		expect(await keys.claim('/ws ada', 'k', LIMITS)).toEqual({ state: 'claimed' });
		await keys.release('/ws ada', 'k');
		expect(await keys.claim('/ws ada', 'k', LIMITS)).toEqual({ state: 'claimed' });
		await redis.kill();
		await until(() => !engine.healthy, 'the engine to see Redis gone');
		const start = performance.now();
		await expect(keys.claim('/ws ada', 'j', LIMITS)).rejects.toThrow(
			/cannot claim the request key "j": Redis is unavailable/
		);
		await expect(keys.release('/ws ada', 'k')).rejects.toThrow(
			/cannot release the request key "k": Redis is unavailable/
		);
		expect(performance.now() - start).toBeLessThan(100);
	});

	it('writes an answer Redis could not take once it is back: a repeat elsewhere gets it, not a new claim', async () => {
		const redis = await startRedisServer({ persistent: true });
		const engine = await startedEngine(redis);
		const [a, b] = [keysOf(engine), keysOf(await startedEngine(redis))];
		expect(await a.claim('/ws ada', 'k', LIMITS)).toEqual({ state: 'claimed' });
		await redis.kill();
		await until(() => !engine.healthy, 'the engine to see Redis gone');
		await expect(a.settle('/ws ada', 'k', answer(1), LIMITS)).rejects.toThrow(
			/cannot keep the answer of the request key "k": Redis is unavailable.*written once Redis answers again/
		);
		await redis.restart();
		let found: RequestKeyState = { state: 'running' };
		await until(
			async () => (found = await b.claim('/ws ada', 'k', LIMITS)).state != 'running',
			'the kept answer to reach Redis',
			{ ms: 10_000, everyMs: 20 }
		);
		expect(found).toEqual({ state: 'answered', answer: answer(1) });
	});
});
