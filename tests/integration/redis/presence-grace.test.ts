import { describe, expect, it } from 'vitest';
import type { WsPeer } from '../../kit/peers/ws-peer.js';
import { lastCount, presentMember, sawLeave } from '../../kit/presence-diffs.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { startServerProcess, type ServerProcess } from '../../kit/servers/chaos-server-process.js';
import { until, within } from '../../kit/wait.js';

// Presence grace across two server processes on one Redis: a user whose connection to A drops and
// who comes back on B (or whose process A shuts down for a deploy) is never seen leaving by B's
// members; a leave the client asked for is seen at once; a process killed during a grace takes its
// entries with it after the engine's TTL. tests/integration/presence-grace.test.ts covers one process.

const ROOM = 'team:acme';

/** Two chaos-server processes with presence on one fresh redis-server. */
async function twoServers(grace: number, ttl: number) {
	const redis = await startRedisServer();
	const env = {
		REDIS_URL: redis.url,
		PRESENCE: '1',
		PRESENCE_TTL_MS: String(ttl),
		PRESENCE_GRACE_MS: String(grace)
	};
	const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);
	return { a, b };
}

/** A raw client of `token` (`id:name`) on `server`, in ROOM, its `presence.state` received. */
const member = (server: ServerProcess, token: string) => presentMember(server.url, token, ROOM);

/** Waits until `check` holds of what `raw` received. */
async function heard(raw: WsPeer, check: () => boolean, what: string, ms = 5_000): Promise<void> {
	await within(
		(async () => {
			while (!check()) await raw.waitForMessages(raw.messages.length + 1, ms);
		})(),
		what,
		ms
	);
}

/** Waits until `server` has `count` open connections (it handled the others' closes). */
const connectionsOn = (server: ServerProcess, count: number) =>
	until(async () => (await server.stats()).connections == count, `${count} connections`, {
		everyMs: 20
	});

describe('presence grace across processes on Redis', () => {
	it('never shows a user leaving whose tab dropped on A and came back on B', async () => {
		const grace = 1_000;
		const { a, b } = await twoServers(grace, 1_500);
		const observer = await member(b, 'obs:Obs');
		const ada = await member(a, 'ada:Ada');
		await heard(observer, () => lastCount(observer, 'ada') == 1, 'Ada on A');
		ada.socket.terminate();
		await connectionsOn(a, 0);
		// Cy's join, made on A after it handled Ada's drop, reaches Obs after a leave of Ada's would.
		await member(a, 'cy:Cy');
		await heard(observer, () => lastCount(observer, 'cy') == 1, 'Cy on A');
		expect(sawLeave(observer, 'ada')).toBe(false);

		await member(b, 'ada:Ada');
		await heard(observer, () => lastCount(observer, 'ada') == 2, 'Ada back on B');
		// Her connection on A ends with its grace: one connection fewer, never gone.
		const back = Date.now();
		await heard(observer, () => lastCount(observer, 'ada') == 1, 'A’s grace to end');
		expect(Date.now() - back).toBeLessThan(grace + 1_000);
		expect(sawLeave(observer, 'ada')).toBe(false);
	});

	it('shows no user leaving when A shuts down for a deploy: its graces expire after it, with its TTL', async () => {
		const ttl = 2_500;
		const { a, b } = await twoServers(60_000, ttl);
		const observer = await member(b, 'obs:Obs');
		const ada = await member(a, 'ada:Ada');
		await heard(observer, () => lastCount(observer, 'ada') == 1, 'Ada on A');
		const started = Date.now();
		await a.stop();
		// A waited neither for the grace nor for Ada: it closed her (1001) and handed her on.
		expect(Date.now() - started).toBeLessThan(3_000);
		expect((await ada.closedWithin()).code).toBe(1001);
		// A is gone: had it announced Ada's leave, Obs would hear it before Cy's join.
		await member(b, 'cy:Cy');
		await heard(observer, () => lastCount(observer, 'cy') == 1, 'Cy on B');
		expect(sawLeave(observer, 'ada')).toBe(false);

		await member(b, 'ada:Ada');
		await heard(observer, () => lastCount(observer, 'ada') == 2, 'Ada back on B');
		// A's entry goes once A's time runs out, as a crashed process's would.
		await heard(observer, () => lastCount(observer, 'ada') == 1, 'A’s entry to expire', ttl * 2);
		expect(sawLeave(observer, 'ada')).toBe(false);
	});

	it('shows a leave on A at once on B, and a drop on a process killed in its grace once the TTL passed', async () => {
		const ttl = 1_500;
		const { a, b } = await twoServers(60_000, ttl);
		const observer = await member(b, 'obs:Obs');
		const [ada, bob] = [await member(a, 'ada:Ada'), await member(a, 'bob:Bob')];
		await heard(observer, () => lastCount(observer, 'bob') == 1, 'Ada and Bob on A');
		bob.socket.close(1000);
		await heard(observer, () => sawLeave(observer, 'bob'), 'Bob’s leave, at once', 2_000);

		ada.socket.terminate();
		await connectionsOn(a, 0);
		await member(a, 'cy:Cy');
		await heard(observer, () => lastCount(observer, 'cy') == 1, 'Cy on A');
		expect(sawLeave(observer, 'ada')).toBe(false);
		const killed = Date.now();
		await a.kill();
		await heard(observer, () => sawLeave(observer, 'ada'), 'Ada gone with A', ttl * 2 + 2_000);
		expect(Date.now() - killed).toBeLessThan(ttl * 2 + 2_000);
	});
});
