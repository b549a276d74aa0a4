import { describe, expect, it } from 'vitest';
import type { WsPeer } from '../../kit/peers/ws-peer.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import {
	startUsersServer,
	type UsersServerProcess
} from '../../kit/servers/users-server-process.js';
import { admittedTab, stillOpen, userTab } from '../../kit/user-tabs.js';
import { until } from '../../kit/wait.js';

// disconnectUser, reauthorizeUser and maxConnectionsPerUser across two server processes
// (tests/kit/servers/users-server.ts) on one fresh redis-server: the command goes out on the
// engine's control channel, the slots live in Redis.

/** Two server processes on one fresh redis-server, with `env` added. */
async function twoServers(env: Record<string, string> = {}) {
	const redis = await startRedisServer();
	const all = { REDIS_URL: redis.url, ...env };
	const [a, b] = await Promise.all([startUsersServer(all), startUsersServer(all)]);
	return { a, b };
}

/** Milliseconds from `start` until `peer` closed, with its close code. */
async function closedAfter(peer: WsPeer, start: number) {
	const { code } = await peer.closedWithin(2_000);
	return { code, ms: performance.now() - start };
}

/** Resolves once `server` counts `count` open connections of `userId`. */
function counted(server: UsersServerProcess, userId: string, count: number) {
	return until(
		async () => (await server.stats()).connections.filter((id) => id === userId).length == count,
		`${count} connection(s) of ${userId}`,
		{ everyMs: 20 }
	);
}

describe('revocation across server processes on Redis', () => {
	it('disconnectUser on A closes the user’s tabs on B (and A) within a second; others stay', async () => {
		const { a, b } = await twoServers();
		const adaOnB = [await userTab(b.url, 'ada:Ada'), await userTab(b.url, 'ada:Ada')];
		const adaOnA = await userTab(a.url, 'ada:Ada');
		const bob = await userTab(b.url, 'bob:Bob');

		// The test's first HTTP request pays for fetch's set-up: not part of what is measured.
		await a.stats();
		const start = performance.now();
		await a.post('/disconnect', { user: 'ada' });
		const closes = await Promise.all([...adaOnB, adaOnA].map((peer) => closedAfter(peer, start)));
		console.log(
			`disconnectUser on A → closes seen by B's tabs after ${closes
				.slice(0, 2)
				.map(({ ms }) => ms.toFixed(1))
				.join(', ')} ms, by A's after ${closes[2].ms.toFixed(1)} ms`
		);
		for (const { code, ms } of closes) {
			expect(code).toBe(4004);
			expect(ms).toBeLessThan(1_000);
		}
		await stillOpen(bob);
		expect((await b.stats()).metrics.userConnectionsRevoked).toBe(2);
		expect((await a.stats()).metrics.userConnectionsRevoked).toBe(1);

		// Ten more rounds, one tab on B each: from the request to A until B's tab saw its close.
		const rounds: number[] = [];
		for (let round = 0; round < 10; round++) {
			const tab = await userTab(b.url, `cy${round}:Cy`);
			const sent = performance.now();
			await a.post('/disconnect', { user: `cy${round}` });
			rounds.push((await closedAfter(tab, sent)).ms);
		}
		rounds.sort((x, y) => x - y);
		console.log(
			`disconnectUser A → B, 10 rounds: median ${rounds[5].toFixed(1)} ms, max ${rounds[9].toFixed(1)} ms`
		);
		expect(rounds[9]).toBeLessThan(1_000);
	});

	it('reauthorizeUser on A drops the room no longer allowed from the user’s tab on B', async () => {
		const { a, b } = await twoServers();
		const ada = await userTab(b.url, 'ada:Ada');
		for (const room of ['team:a', 'team:b']) {
			ada.send({ name: 'room.join', data: { room }, id: 1 });
			await ada.nextMessage('room.joined', 5_000, ada.messages.length);
		}
		await b.post('/ban', { user: 'ada', room: 'team:b' });

		await a.post('/reauthorize', { user: 'ada' });
		const error = await ada.nextMessage('error', 2_000);
		expect(error.data).toEqual({
			code: 'forbidden',
			message: 'No longer allowed in "team:b"',
			room: 'team:b'
		});
		await stillOpen(ada);
	});

	it('limits a user’s connections across both processes: the one past it gets 4005, none open is dropped', async () => {
		const { a, b } = await twoServers({ MAX_PER_USER: '2' });
		const open = [await userTab(a.url, 'ada:Ada'), await userTab(b.url, 'ada:Ada')];
		for (const server of [a, b]) {
			const refused = await userTab(server.url, 'ada:Ada', false);
			expect(await refused.closedWithin()).toEqual({
				code: 4005,
				reason: 'Too many connections for this user'
			});
			expect(refused.messages.map((message) => message.name)).not.toContain('connected');
		}
		for (const peer of open) await stillOpen(peer);
		await userTab(b.url, 'bob:Bob');
		expect((await a.stats()).metrics.userConnectionsRefused).toEqual({ '/ws': 1 });

		// A slot given back on A is free for B.
		open[0].socket.close(1000);
		await open[0].closed;
		await counted(a, 'ada', 0);
		await admittedTab(b.url, 'ada:Ada');
	});

	it('frees the slots of a SIGKILLed process once its TTL passed', async () => {
		const ttl = 2_000;
		const { a, b } = await twoServers({ MAX_PER_USER: '1', PRESENCE_TTL_MS: String(ttl) });
		await userTab(a.url, 'ada:Ada');
		await a.kill();
		const killed = performance.now();
		// A's slot outlives it: B still counts it.
		const early = await userTab(b.url, 'ada:Ada', false);
		expect((await early.closedWithin()).code).toBe(4005);

		const admitted = await admittedTab(b.url, 'ada:Ada', ttl * 2 + 3_000);
		const freedAfter = performance.now() - killed;
		console.log(
			`a SIGKILLed process's slot freed ${freedAfter.toFixed(0)} ms after the kill (ttl ${ttl} ms)`
		);
		expect(freedAfter).toBeLessThan(ttl + 1_500);
		await stillOpen(admitted);
	});
});
