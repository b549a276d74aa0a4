import { describe, expect, it } from 'vitest';
import type { WsPeer } from '../../kit/peers/ws-peer.js';
import { answerOf, answersOf } from '../../kit/request-keys.js';
import { Apply, type ApplyData } from '../../kit/servers/keyed-messages.js';
import {
	effectsFile,
	startKeyedServer,
	type KeyedServerProcess
} from '../../kit/servers/keyed-server-process.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { userTab } from '../../kit/user-tabs.js';
import { until } from '../../kit/wait.js';

// Exactly-once requests under real faults: keyed servers (tests/kit/servers/keyed-server.ts) are
// child processes on a redis-server of the test's own; their handler's one side effect is a line in
// a file, counted per key, and the answers are counted as the raw clients saw them.

const ADA = 'ada:Ada';
let nextId = 1;

/** Sends a keyed `Apply` as the client's dialect writes it (`key` before `id`); returns its id. */
function sendKeyed(tab: WsPeer, key: string, data: ApplyData): number {
	const id = nextId++;
	tab.send(`{"name":"${Apply.name}","data":${JSON.stringify(data)},"key":"${key}","id":${id}}`);
	return id;
}

/** How many times the handler of `key` started, on every process given. */
function starts(key: string, ...servers: KeyedServerProcess[]): number {
	return servers.reduce((sum, server) => sum + server.starts(key), 0);
}

describe('exactly-once requests on Redis, real processes', { timeout: 60_000 }, () => {
	it('a server SIGKILLed mid-handler: the retry on another process runs it once, after the lease, and a repeat gets its answer', async () => {
		const redis = await startRedisServer();
		const effects = effectsFile();
		const lease = 1_000;
		const [a, b] = await Promise.all([
			startKeyedServer(redis.url, effects, { lease }),
			startKeyedServer(redis.url, effects, { lease })
		]);
		const key = 'killed-mid-handler';
		const first = await userTab(a.url, ADA);
		const firstId = sendKeyed(first, key, { hold: true });
		await a.started(key);
		const claimed = performance.now();
		await a.kill();
		await first.closedWithin();

		await b.release(key);
		const second = await userTab(b.url, ADA);
		const secondId = sendKeyed(second, key, { hold: true });
		const answer = await answerOf(second, secondId);
		const waited = performance.now() - claimed;
		expect(answer.name).toBe('reply');
		expect(waited).toBeGreaterThanOrEqual(lease - 50);
		const repeatId = sendKeyed(second, key, { hold: true });
		expect((await answerOf(second, repeatId)).data).toEqual(answer.data);

		expect(effects.count(key)).toBe(1);
		expect(answersOf(first, firstId)).toEqual([]);
		expect(answersOf(second, secondId)).toHaveLength(1);
		expect(starts(key, a, b)).toBe(2);
		console.log(
			`SIGKILL mid-handler: effects 1, answers 1 (+1 repeat, the same), retry answered ${waited.toFixed(0)} ms after the claim (lease ${lease} ms)`
		);
	});

	it('Redis restarted mid-handler: the answer reaches the client, and a repeat once Redis is back gets it without running again', async () => {
		const redis = await startRedisServer({ persistent: true });
		const effects = effectsFile();
		const [a, b] = await Promise.all([
			startKeyedServer(redis.url, effects),
			startKeyedServer(redis.url, effects)
		]);
		const tab = await userTab(a.url, ADA);
		const afterRestart = 'answered-after-restart';
		const whileDown = 'answered-while-down';
		const afterId = sendKeyed(tab, afterRestart, { hold: true });
		const downId = sendKeyed(tab, whileDown, { hold: true });
		await a.started(afterRestart);
		await a.started(whileDown);

		await redis.kill();
		await a.healthy(false);
		// Answered while Redis is down: the answer still goes out, and A keeps it for Redis.
		await a.release(whileDown);
		const downAnswer = await answerOf(tab, downId);
		expect(downAnswer.name).toBe('reply');
		await redis.restart();
		// Both processes back on Redis: B's repeats below ask it (before B reconnects, they would be
		// answered unavailable, rightly, and the client would send them again).
		await Promise.all([a.healthy(true), b.healthy(true)]);
		await a.release(afterRestart);
		const afterAnswer = await answerOf(tab, afterId);
		expect(afterAnswer.name).toBe('reply');

		// Repeats on the other process: what they get comes from Redis.
		const elsewhere = await userTab(b.url, ADA);
		const repeats = [sendKeyed(elsewhere, afterRestart, {}), sendKeyed(elsewhere, whileDown, {})];
		expect((await answerOf(elsewhere, repeats[0])).data).toEqual(afterAnswer.data);
		expect((await answerOf(elsewhere, repeats[1])).data).toEqual(downAnswer.data);
		for (const key of [afterRestart, whileDown]) {
			expect(effects.count(key), key).toBe(1);
			expect(starts(key, a, b), key).toBe(1);
		}
		expect(answersOf(tab, afterId)).toHaveLength(1);
		expect(answersOf(tab, downId)).toHaveLength(1);
		console.log(
			'Redis restarted mid-handler: effects 1 per key, answers 1 per key; repeats on another process got the kept answers (also the one given while Redis was down)'
		);
	});

	it('Redis down at the claim: the client gets unavailable, nothing runs, and a retry once it is back runs it once', async () => {
		const redis = await startRedisServer();
		const effects = effectsFile();
		const a = await startKeyedServer(redis.url, effects);
		const tab = await userTab(a.url, ADA);
		const key = 'claim-while-down';
		await redis.kill();
		await a.healthy(false);
		const refusedId = sendKeyed(tab, key, {});
		const refused = await answerOf(tab, refusedId);
		expect([refused.name, (refused.data as { code?: string }).code]).toEqual([
			'error',
			'unavailable'
		]);
		expect(starts(key, a)).toBe(0);

		await redis.restart();
		await a.healthy(true);
		const retry = await userTab(a.url, ADA);
		const retryId = sendKeyed(retry, key, {});
		const answer = await answerOf(retry, retryId);
		expect(answer.name).toBe('reply');
		const repeatId = sendKeyed(retry, key, {});
		expect((await answerOf(retry, repeatId)).data).toEqual(answer.data);
		expect(effects.count(key)).toBe(1);
		expect(answersOf(tab, refusedId)).toHaveLength(1);
		console.log('Redis down at the claim: unavailable, effects 0; the retry once back: effects 1');
	});

	it('two processes racing on one key run the handler once, and both clients get the same answer', async () => {
		const redis = await startRedisServer();
		const effects = effectsFile();
		const [a, b] = await Promise.all([
			startKeyedServer(redis.url, effects),
			startKeyedServer(redis.url, effects)
		]);
		const [onA, onB] = [await userTab(a.url, ADA), await userTab(b.url, ADA)];
		const keys = Array.from({ length: 20 }, (_, index) => `race-${index}`);
		const sent = keys.map((key) => [
			sendKeyed(onA, key, { work: 30 }),
			sendKeyed(onB, key, { work: 30 })
		]);
		// One held past the other's first re-claims: it waits for the answer, then gets it.
		const held = 'race-held';
		const heldIds = [sendKeyed(onA, held, { hold: true }), sendKeyed(onB, held, { hold: true })];
		await until(() => starts(held, a, b) == 1, 'one handler of the held key to start');
		await (a.starts(held) ? a : b).release(held);

		for (const [index, key] of [...keys, held].entries()) {
			const [idA, idB] = index < keys.length ? sent[index] : heldIds;
			const [answerA, answerB] = [await answerOf(onA, idA), await answerOf(onB, idB)];
			expect(answerA.name, key).toBe('reply');
			expect(answerB.data, key).toEqual(answerA.data);
			expect(effects.count(key), key).toBe(1);
			expect(starts(key, a, b), key).toBe(1);
		}
		for (const [id, tab] of [...sent, heldIds].flatMap(
			([idA, idB]) =>
				[
					[idA, onA],
					[idB, onB]
				] as const
		)) {
			expect(answersOf(tab, id)).toHaveLength(1);
		}
		console.log(
			`two processes racing on ${keys.length + 1} keys: effects 1 per key, one answer per client, the same on both`
		);
	});
});
