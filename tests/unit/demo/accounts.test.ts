import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DemoAccounts, sweepInterval, type AccountLimits } from '../../../src/demo/accounts.js';
import type { Monitor } from '../../../src/demo/messages.js';
import { RedisDashboardStore } from '../../../src/demo/redis-store.js';
import { MemoryDashboardStore, type DashboardStore } from '../../../src/demo/store.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';

// The demo's account bound and expiry, against both stores: the in-memory one and the Redis one
// (a real redis-server of the test). Time is a hand-moved clock.

const LIMITS: AccountLimits = { maxAccounts: 3, idleTimeout: 60_000, newTeamsPerClient: 2 };
/** An account active this recently counts as in use (a viewer elsewhere, a page about to connect). */
const IN_USE = 2 * sweepInterval(LIMITS);

const monitor = (account: string): Monitor => ({
	uuid: `${account}/web/homepage`,
	account,
	project: 'web',
	name: 'Homepage',
	status: 'up',
	changedAt: 0,
	checks: [],
	spans: [{ at: 0, status: 'up' }]
});

interface Harness {
	store: DashboardStore;
	accounts: DemoAccounts;
	viewed: Set<string>;
	clock: { now: number };
	names(): Promise<string[]>;
	admit(account: string): Promise<boolean>;
}

function harness(store: DashboardStore, limits = LIMITS): Harness {
	const viewed = new Set<string>();
	const clock = { now: 1_000_000 };
	const accounts = new DemoAccounts(
		store,
		limits,
		() => viewed,
		() => clock.now
	);
	return {
		store,
		accounts,
		viewed,
		clock,
		names: async () => (await store.accounts()).map((known) => known.account),
		admit: (account) => accounts.admit(account, () => [monitor(account)])
	};
}

const stores: [string, () => Promise<DashboardStore & { close?(): Promise<void> }>][] = [
	['memory', async () => new MemoryDashboardStore()],
	[
		'Redis',
		async () =>
			new RedisDashboardStore((await startRedisServer()).url, { retention: 2 * LIMITS.idleTimeout })
	]
];

describe.each(stores)('demo accounts in the %s store', (_name, createStore) => {
	let store: DashboardStore & { close?(): Promise<void> };
	let demo: Harness;

	beforeEach(async () => {
		store = await createStore();
		demo = harness(store);
	});
	afterEach(async () => {
		await store.close?.();
	});

	it('creates an account once, with its seeded monitors, and keeps its state', async () => {
		expect(await demo.admit('acme')).toBe(true);
		await store.putMonitor({ ...monitor('acme'), status: 'down' });
		expect(await demo.admit('acme')).toBe(true);
		expect(await demo.names()).toEqual(['acme']);
		expect((await store.snapshot('acme')).monitors.map((m) => m.status)).toEqual(['down']);
	});

	it('never holds more than maxAccounts: a new team replaces the longest-idle one', async () => {
		for (const team of ['a', 'b', 'c']) {
			expect(await demo.admit(team)).toBe(true);
			demo.clock.now += 1_000;
		}
		demo.clock.now += IN_USE;
		expect(await demo.admit('a')).toBe(true); // signing in again makes it the most recent
		expect(await demo.admit('d')).toBe(true);
		expect(await demo.names()).toEqual(['c', 'a', 'd']);
		expect((await store.snapshot('b')).monitors).toEqual([]);
	});

	it('refuses a new team while every account is in use, and never evicts a viewed one', async () => {
		for (const team of ['a', 'b', 'c']) expect(await demo.admit(team)).toBe(true);
		// Just signed in: their pages are about to connect.
		expect(await demo.admit('d')).toBe(false);

		demo.clock.now += IN_USE;
		demo.viewed.add('a').add('b');
		expect(await demo.admit('d')).toBe(true);
		expect(await demo.names()).toEqual(['a', 'b', 'd']);

		demo.viewed.add('d');
		demo.clock.now += IN_USE;
		expect(await demo.admit('e')).toBe(false);
		expect((await demo.names()).sort()).toEqual(['a', 'b', 'd']);
	});

	it('admits the last place once when two new teams ask at the same time', async () => {
		await demo.admit('a');
		await demo.admit('b');
		const admitted = await Promise.all([demo.admit('c'), demo.admit('d')]);
		expect(admitted.sort()).toEqual([false, true]);
		expect(await demo.names()).toHaveLength(3);
	});

	it('expires an account idle for idleTimeout, and keeps a viewed one however old', async () => {
		await demo.admit('idle');
		await demo.admit('watched');
		await demo.admit('recent');
		demo.viewed.add('watched');
		demo.clock.now += LIMITS.idleTimeout - 1;
		await demo.accounts.sweep();
		expect((await demo.names()).sort()).toEqual(['idle', 'recent', 'watched']);

		demo.clock.now += 1;
		await demo.admit('recent');
		await demo.accounts.sweep();
		expect((await demo.names()).sort()).toEqual(['recent', 'watched']);
		expect((await store.snapshot('idle')).monitors).toEqual([]);

		// The last viewer leaves: the account was active until the sweep before.
		demo.viewed.delete('watched');
		demo.clock.now += LIMITS.idleTimeout - 1;
		await demo.accounts.sweep();
		expect((await demo.names()).sort()).toEqual(['recent', 'watched']);
		demo.clock.now += 1;
		await demo.accounts.sweep();
		expect(await demo.names()).toEqual([]);
	});

	it('lists as live only the accounts in use: viewed, or active within two sweeps', async () => {
		await demo.admit('viewed');
		await demo.admit('left');
		demo.viewed.add('viewed');
		expect((await demo.accounts.live()).sort()).toEqual(['left', 'viewed']);
		demo.clock.now += IN_USE;
		expect(await demo.accounts.live()).toEqual(['viewed']);
	});

	it('forgets writes to a removed account', async () => {
		await demo.admit('gone');
		await store.removeAccount('gone');
		await store.putMonitor({ ...monitor('gone'), status: 'down' });
		await store.addActivity('gone', { id: '1', at: 0, kind: 'incident.opened', text: 'late' });
		expect(await demo.names()).toEqual([]);
		expect(await demo.admit('gone')).toBe(true);
		expect((await store.snapshot('gone')).monitors.map((m) => m.status)).not.toContain('down');
	});
});

describe('demo accounts in the Redis store, shared by two processes', () => {
	it('keeps an account viewed through one process alive through the other one’s sweeps', async () => {
		const redis = await startRedisServer();
		const [storeA, storeB] = [0, 1].map(
			() => new RedisDashboardStore(redis.url, { retention: 2 * LIMITS.idleTimeout })
		);
		try {
			const a = harness(storeA);
			const b = harness(storeB);
			await a.admit('shared');
			a.viewed.add('shared');
			for (let step = 0; step < 10; step++) {
				a.clock.now = b.clock.now += sweepInterval(LIMITS);
				await a.accounts.sweep();
				await b.accounts.sweep();
			}
			expect(await b.names()).toEqual(['shared']);
			expect(await b.accounts.live()).toEqual(['shared']);

			a.viewed.clear();
			a.clock.now = b.clock.now += LIMITS.idleTimeout;
			await b.accounts.sweep();
			expect(await b.names()).toEqual([]);
		} finally {
			await Promise.all([storeA.close(), storeB.close()]);
		}
	});

	it('lets every key of an account expire on its own after the retention', async () => {
		const redis = await startRedisServer();
		const store = new RedisDashboardStore(redis.url, { retention: 200 });
		try {
			await harness(store).admit('left-behind');
			await store.addActivity('left-behind', {
				id: '1',
				at: 0,
				kind: 'incident.opened',
				text: 'x'
			});
			const { Redis } = await import('ioredis');
			const probe = new Redis(redis.url);
			const keys = await probe.keys('runesocket-demo:left-behind:*');
			const ttls = await Promise.all(keys.map((key) => probe.pttl(key)));
			await probe.quit();
			expect(keys.sort()).toEqual([
				'runesocket-demo:left-behind:activity',
				'runesocket-demo:left-behind:monitors'
			]);
			for (const ttl of ttls) expect(ttl).toBeGreaterThan(0);
			for (const ttl of ttls) expect(ttl).toBeLessThanOrEqual(200);
		} finally {
			await store.close();
		}
	});
});

describe('the sweep timer', () => {
	beforeEach(() => {
		vi.useFakeTimers();
	});
	afterEach(() => {
		vi.useRealTimers();
	});

	it('removes an idle account within idleTimeout plus one sweep, and stops when asked', async () => {
		const store = new MemoryDashboardStore();
		const accounts = new DemoAccounts(store, LIMITS, () => []);
		const stop = accounts.start();
		await accounts.admit('acme', () => [monitor('acme')]);
		await vi.advanceTimersByTimeAsync(LIMITS.idleTimeout - 1);
		expect(await store.accounts()).toHaveLength(1);
		await vi.advanceTimersByTimeAsync(sweepInterval(LIMITS));
		expect(await store.accounts()).toEqual([]);

		stop();
		await accounts.admit('later', () => [monitor('later')]);
		await vi.advanceTimersByTimeAsync(10 * LIMITS.idleTimeout);
		expect(await store.accounts()).toHaveLength(1);
	});
});
