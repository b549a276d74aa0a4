import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createSocketServer, type SocketServer } from '../../../src/lib/server/index.js';
import { DEFAULT_ACCOUNT_LIMITS, DemoAccounts, sweepInterval } from '../../../src/demo/accounts.js';
import { Dashboard } from '../../../src/demo/dashboard.js';
import { MAX_OPEN_INCIDENTS } from '../../../src/demo/limits.js';
import { startSimulator } from '../../../src/demo/simulator.js';
import { MemoryDashboardStore } from '../../../src/demo/store.js';

// The demo's server side as realtime.ts wires it (socket server, store, accounts, simulator), under
// fake timers: what 300 sign-ins leave behind, and which accounts the simulator keeps changing.

const MONITOR_INTERVAL = 4_000;
const IN_USE = 2 * sweepInterval(DEFAULT_ACCOUNT_LIMITS);

let sockets: SocketServer;
let store: MemoryDashboardStore;
let dashboard: Dashboard;
let viewed: Set<string>;
const stops: (() => void)[] = [];

beforeEach(() => {
	vi.useFakeTimers();
	sockets = createSocketServer({ routes: [{ path: '/ws' }] });
	store = new MemoryDashboardStore();
	viewed = new Set();
	const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => viewed);
	dashboard = new Dashboard(store, sockets, accounts);
	stops.push(
		accounts.start(),
		startSimulator(dashboard, {
			monitorInterval: MONITOR_INTERVAL,
			incidentInterval: 0,
			checkInterval: 0
		})
	);
});

afterEach(async () => {
	for (const stop of stops.splice(0)) stop();
	vi.useRealTimers();
	await sockets.close();
});

/** When the simulator last changed something in the account (0: never, or the account is gone). */
async function lastChange(account: string): Promise<number> {
	const { activity } = await dashboard.state(account);
	return Math.max(0, ...activity.map((line) => line.at));
}

describe('the demo under a stream of sign-ins', () => {
	it('300 teams signing in one after another leave only the last idleTimeout’s worth', async () => {
		let most = 0;
		for (let team = 0; team < 300; team++) {
			expect(await dashboard.admit(`team-${team}`)).toBe(true);
			await vi.advanceTimersByTimeAsync(20_000);
			most = Math.max(most, (await store.accounts()).length);
		}
		const perIdleTimeout = DEFAULT_ACCOUNT_LIMITS.idleTimeout / 20_000;
		expect(most).toBeLessThanOrEqual(perIdleTimeout + 2);
		expect((await store.accounts()).length).toBeLessThanOrEqual(perIdleTimeout + 2);
		expect(await dashboard.state('team-0')).toEqual({ incidents: [], monitors: [], activity: [] });
	});

	it('300 teams signing in at once get at most maxAccounts accounts; the rest are refused', async () => {
		const admitted = await Promise.all(
			Array.from({ length: 300 }, (_, team) => dashboard.admit(`team-${team}`))
		);
		expect(admitted.filter(Boolean)).toHaveLength(DEFAULT_ACCOUNT_LIMITS.maxAccounts);
		expect(await store.accounts()).toHaveLength(DEFAULT_ACCOUNT_LIMITS.maxAccounts);

		// Once they went idle, new teams replace them.
		await vi.advanceTimersByTimeAsync(IN_USE);
		expect(await dashboard.admit('latecomer')).toBe(true);
		expect(await store.accounts()).toHaveLength(DEFAULT_ACCOUNT_LIMITS.maxAccounts);
	});
});

describe('the simulator', () => {
	it('changes only accounts in use, and stops for good once an account expired', async () => {
		await dashboard.admit('watched');
		await dashboard.admit('left');
		viewed.add('watched');
		const signedIn = Date.now();

		await vi.advanceTimersByTimeAsync(IN_USE + 5 * MONITOR_INTERVAL);
		expect(await lastChange('watched')).toBeGreaterThan(Date.now() - 2 * MONITOR_INTERVAL);
		const leftChanged = await lastChange('left');
		expect(leftChanged).toBeGreaterThan(signedIn);
		expect(leftChanged).toBeLessThanOrEqual(signedIn + IN_USE + MONITOR_INTERVAL);

		await vi.advanceTimersByTimeAsync(DEFAULT_ACCOUNT_LIMITS.idleTimeout);
		expect((await store.accounts()).map((known) => known.account)).toEqual(['watched']);
		expect(await lastChange('left')).toBe(0);
		expect(await lastChange('watched')).toBeGreaterThan(Date.now() - 2 * MONITOR_INTERVAL);

		// For good: many rounds later the expired account has neither come back nor changed.
		await vi.advanceTimersByTimeAsync(20 * MONITOR_INTERVAL);
		expect((await store.accounts()).map((known) => known.account)).toEqual(['watched']);
		expect(await lastChange('left')).toBe(0);
	});

	it('does not start a round while the previous one still runs', async () => {
		await dashboard.admit('slow');
		let running = 0;
		let most = 0;
		vi.spyOn(dashboard, 'setMonitorStatus').mockImplementation(async (monitor) => {
			most = Math.max(most, ++running);
			await new Promise((resolve) => setTimeout(resolve, 10 * MONITOR_INTERVAL));
			running--;
			return monitor;
		});
		await vi.advanceTimersByTimeAsync(30 * MONITOR_INTERVAL);
		expect(most).toBe(1);
	});
});

describe('an account', () => {
	it('keeps at most MAX_OPEN_INCIDENTS open, however often the form is posted', async () => {
		await dashboard.admit('busy');
		const user = { name: 'Ada', account: 'busy' };
		const request = { title: 'Again', severity: 'info' as const, project: 'web' };
		const opened = [];
		for (let post = 0; post < MAX_OPEN_INCIDENTS + 5; post++) {
			opened.push(await dashboard.openIncident(user, request));
		}
		const incidents = opened.filter((result) => typeof result == 'object');
		expect(incidents).toHaveLength(MAX_OPEN_INCIDENTS);
		expect(opened.slice(MAX_OPEN_INCIDENTS)).toEqual(Array(5).fill('too-many-open'));
		expect((await dashboard.state('busy')).incidents).toHaveLength(MAX_OPEN_INCIDENTS);

		expect(await dashboard.resolveIncident(user, incidents[0]!.uuid)).toMatchObject({
			status: 'resolved'
		});
		expect(await dashboard.openIncident(user, request)).toMatchObject({ status: 'open' });
	});
});
