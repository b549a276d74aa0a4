import { describe, expect, it } from 'vitest';
import { controlChannel, userSlotsKey } from '../../../src/lib/redis/keys.js';
import { userSlotKey } from '../../../src/lib/server/session/user-limit.js';
import { startRedisCluster } from '../../kit/servers/redis-cluster.js';
import { startUsersServer } from '../../kit/servers/users-server-process.js';
import { admittedTab, stillOpen, userTab } from '../../kit/user-tabs.js';

// Revocation and per-user limits on a 3-master Redis Cluster: the control channel goes out with
// SPUBLISH on the master of its slot, each user's slots live on the master of theirs.

const USERS = ['ada', 'bob', 'cy', 'dan'];

describe('revocation and per-user limits on a Redis Cluster', () => {
	it('closes a user’s tabs on both processes, and limits every user across them', async () => {
		const cluster = await startRedisCluster();
		const env = { REDIS_URL: cluster.url, MAX_PER_USER: '1' };
		const [a, b] = await Promise.all([startUsersServer(env), startUsersServer(env)]);
		// The users' slots are spread over more than one master, apart from the control channel's.
		const masters = new Set(
			await Promise.all(
				USERS.map((user) => cluster.masterOf(userSlotsKey('runesocket:', userSlotKey('/ws', user))))
			)
		);
		expect(masters.size).toBeGreaterThan(1);
		await cluster.masterOf(controlChannel('runesocket:'));

		const tabs = [];
		for (const [index, user] of USERS.entries()) {
			const [home, other] = index % 2 ? [a, b] : [b, a];
			tabs.push(await userTab(home.url, `${user}:${user}`));
			const refused = await userTab(other.url, `${user}:${user}`, false);
			expect((await refused.closedWithin()).code).toBe(4005);
		}

		const start = performance.now();
		await a.post('/disconnect', { user: 'ada' });
		expect((await tabs[0].closedWithin(1_000)).code).toBe(4004);
		console.log(
			`cluster: disconnectUser on A closed Ada's tab on B after ${(performance.now() - start).toFixed(1)} ms`
		);
		for (const tab of tabs.slice(1)) await stillOpen(tab);
		// Ada's slot went with her tab: she may come back, on either process.
		await admittedTab(a.url, 'ada:ada');
	});
});
