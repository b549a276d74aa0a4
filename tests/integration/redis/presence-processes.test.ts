import { describe, expect, it } from 'vitest';
import { watchPresence, type PresenceMembers } from '../../../src/lib/index.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { startServerProcess, type ServerProcess } from '../../kit/servers/chaos-server-process.js';
import { reachState, within } from '../../kit/wait.js';

const ROOM = 'team:acme';
/** Short, so a killed process's users vanish quickly; long enough for a busy machine's heartbeats. */
const PRESENCE_TTL_MS = 1_500;

type Members = PresenceMembers<{ name: string }>;

/** Two chaos-server processes with presence on one fresh redis-server (`persistent`: it keeps data). */
async function twoServers(persistent = false) {
	const redis = await startRedisServer({ persistent });
	const env = { REDIS_URL: redis.url, PRESENCE: '1', PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) };
	const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
	return { redis, a, b };
}

/** A tab of user `token` (`id:name`) on `server`, watching the room; `until` waits for a view. */
async function tab(server: ServerProcess, token: string) {
	const client = makeClient(server.url, {
		auth: () => token,
		reconnectDelay: 20,
		maxReconnectDelay: 100
	});
	let wake = () => {};
	const watch = watchPresence<{ name: string }>(client, ROOM, () => wake());
	client.connect();
	await reachState(client, 'connected');
	const until = (predicate: (members: Members) => boolean, what: string, ms?: number) =>
		within(
			(async () => {
				while (!predicate(watch.members)) await new Promise<void>((done) => (wake = done));
			})(),
			what,
			ms
		).catch((error: Error) => {
			throw new Error(`${error.message} (${token} saw ${JSON.stringify(counts(watch.members))})`);
		});
	return { client, watch, until };
}

/** `{ user: connections }` of a view. */
const counts = (members: Members) =>
	Object.fromEntries([...members].map(([id, entry]) => [id, entry.connections]));

/** Whether a view has exactly the `expected` users with those connection counts. */
const matches = (expected: Record<string, number>) => (members: Members) =>
	members.size == Object.keys(expected).length &&
	Object.entries(expected).every(([id, count]) => members.get(id)?.connections == count);

describe('presence across server processes on Redis', () => {
	it('merges tabs on two processes; a killed process’s users vanish once their entries expire; reconnects resync', async () => {
		const { a, b } = await twoServers();
		const tabs = [
			await tab(a, 'ada:Ada'),
			await tab(a, 'ada:Ada'),
			await tab(b, 'ada:Ada'),
			await tab(b, 'bob:Bob'),
			await tab(a, 'cy:Cy')
		];
		const everyone = { ada: 3, bob: 1, cy: 1 };
		for (const each of tabs) await each.until(matches(everyone), 'the merged set');
		expect(tabs[3].watch.members.get('ada')?.data).toEqual({ name: 'Ada' });

		await a.kill();
		const onB = tabs.slice(2, 4);
		// A died without a word: B's tabs see its users go once A's entries expire.
		const left = { ada: 1, bob: 1 };
		for (const each of onB) {
			await each.until(matches(left), 'A’s users to vanish', PRESENCE_TTL_MS * 2 + 5_000);
		}

		await a.restart();
		for (const each of tabs) await each.until(matches(everyone), 'the set after A came back');
		for (const each of tabs) each.client.disconnect();
	});

	it('gives everyone the current set after Redis restarted empty, without who left meanwhile', async () => {
		const { redis, a, b } = await twoServers();
		const [adaOnA, adaOnB, bob] = [
			await tab(a, 'ada:Ada'),
			await tab(b, 'ada:Ada'),
			await tab(b, 'bob:Bob')
		];
		for (const each of [adaOnA, adaOnB, bob]) {
			await each.until(matches({ ada: 2, bob: 1 }), 'the merged set');
		}

		await redis.kill();
		// Bob leaves while Redis is down: nobody can be told until it is back.
		bob.client.disconnect();
		await redis.restart();
		for (const each of [adaOnA, adaOnB]) {
			await each.until(matches({ ada: 2 }), 'the current set, Bob gone', 10_000);
		}
		const cy = await tab(a, 'cy:Cy');
		for (const each of [adaOnA, adaOnB, cy]) {
			await each.until(matches({ ada: 2, cy: 1 }), 'Cy after the restart');
		}
		for (const each of [adaOnA, adaOnB, cy]) each.client.disconnect();
	});

	it.each([
		['restarted empty', false],
		['restarted with its data', true]
	])(
		'gives the whole set to tabs that joined while Redis was down and right after (%s)',
		async (_, persistent) => {
			const { redis, a, b } = await twoServers(persistent);
			const ada = await tab(a, 'ada:Ada');
			const bob = await tab(b, 'bob:Bob');
			for (const each of [ada, bob]) await each.until(matches({ ada: 1, bob: 1 }), 'both');

			await redis.kill();
			// Cy's track and first state both fail: the engine cannot answer until Redis is back.
			const cy = await tab(a, 'cy:Cy');
			await redis.restart();
			// Dan and Eve join while the processes are still reconnecting to Redis.
			const late = await Promise.all([tab(b, 'dan:Dan'), tab(a, 'eve:Eve')]);
			const everyone = { ada: 1, bob: 1, cy: 1, dan: 1, eve: 1 };
			for (const each of [ada, bob, cy, ...late]) {
				await each.until(matches(everyone), 'every tab to see the whole set', 10_000);
			}
			for (const each of [ada, bob, cy, ...late]) each.client.disconnect();
		}
	);
});
