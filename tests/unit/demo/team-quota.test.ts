import { describe, expect, it } from 'vitest';
import {
	DEFAULT_ACCOUNT_LIMITS,
	DemoAccounts,
	accountLimitsFromEnvironment
} from '../../../src/demo/accounts.js';
import { MemoryDashboardStore } from '../../../src/demo/store.js';
import {
	clientKey,
	newTeamRefusal,
	NewTeamQuota,
	requestAddress
} from '../../../src/demo/team-quota.js';

// One client must not take every place the demo has: new teams are counted per client address
// (an IPv6 client per /64), under a hand-moved clock.

function demo(limits = DEFAULT_ACCOUNT_LIMITS) {
	const clock = { now: 1_000_000 };
	const store = new MemoryDashboardStore();
	const accounts = new DemoAccounts(
		store,
		limits,
		() => [],
		() => clock.now
	);
	const admit = (team: string, from: string) => accounts.admit(team, () => [], from);
	return { clock, store, accounts, admit };
}

describe('new teams per client address', () => {
	it(`one client opening teams as fast as it can gets ${DEFAULT_ACCOUNT_LIMITS.newTeamsPerClient}, not every place; others still get in`, async () => {
		const { accounts, admit, store } = demo();
		const admitted = [];
		for (let team = 0; team < DEFAULT_ACCOUNT_LIMITS.maxAccounts; team++)
			admitted.push(await admit(`flood-${team}`, '203.0.113.7'));
		expect(admitted.filter(Boolean)).toHaveLength(DEFAULT_ACCOUNT_LIMITS.newTeamsPerClient);
		expect(await store.accounts()).toHaveLength(DEFAULT_ACCOUNT_LIMITS.newTeamsPerClient);
		expect(accounts.newTeamWait('203.0.113.7')).toBe(DEFAULT_ACCOUNT_LIMITS.idleTimeout);
		expect(await admit('someone-else', '198.51.100.2')).toBe(true);
		expect(accounts.newTeamWait('198.51.100.2')).toBe(0);
	});

	it('lets a client back into its own teams, and open new ones once its oldest is a window old', async () => {
		const { clock, admit, accounts } = demo({ ...DEFAULT_ACCOUNT_LIMITS, newTeamsPerClient: 2 });
		expect(await admit('first', '203.0.113.7')).toBe(true);
		clock.now += 1_000;
		expect(await admit('second', '203.0.113.7')).toBe(true);
		expect(await admit('third', '203.0.113.7')).toBe(false);
		expect(await admit('first', '203.0.113.7')).toBe(true);
		clock.now += DEFAULT_ACCOUNT_LIMITS.idleTimeout - 1_000;
		expect(accounts.newTeamWait('203.0.113.7')).toBe(0);
		expect(await admit('third', '203.0.113.7')).toBe(true);
		expect(await admit('fourth', '203.0.113.7')).toBe(false);
	});

	it('counts an IPv6 client by its /64, and an IPv4-mapped address as the IPv4 one', async () => {
		expect(clientKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
		expect(clientKey('2001:0db8:0001:0002:ffff:1:2:3')).toBe('2001:db8:1:2::/64');
		expect(clientKey('::1')).toBe('0:0:0:0::/64');
		expect(clientKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
		const { admit } = demo({ ...DEFAULT_ACCOUNT_LIMITS, newTeamsPerClient: 1 });
		expect(await admit('one', '2001:db8:1:2::1')).toBe(true);
		expect(await admit('two', '2001:db8:1:2::2')).toBe(false);
		expect(await admit('three', '2001:db8:1:3::1')).toBe(true);
	});

	it('remembers a bounded number of clients', () => {
		const quota = new NewTeamQuota(1, 60_000, () => 0);
		quota.record('10.0.0.0');
		for (let client = 1; client <= 10_000; client++) quota.record(`client-${client}`);
		// The longest quiet client was forgotten; the newest are still counted.
		expect(quota.wait('10.0.0.0')).toBe(0);
		expect(quota.wait('client-10000')).toBe(60_000);
	});

	it('reads DEMO_NEW_TEAMS_PER_CLIENT, and says in minutes how long to wait', () => {
		expect(
			accountLimitsFromEnvironment({ DEMO_NEW_TEAMS_PER_CLIENT: '12' }).newTeamsPerClient
		).toBe(12);
		expect(
			accountLimitsFromEnvironment({ DEMO_NEW_TEAMS_PER_CLIENT: '-1' }).newTeamsPerClient
		).toBe(5);
		expect(newTeamRefusal(90_000)).toMatch(/Too many new teams from your address.*in 2 minutes\.$/);
		expect(newTeamRefusal(1)).toMatch(/in 1 minute\.$/);
	});
});

describe('requestAddress (adapter-node’s rules, for sockets)', () => {
	const request = (headers: Record<string, string>) => ({
		headers,
		socket: { remoteAddress: '127.0.0.1' }
	});

	it('is the connection’s address unless ADDRESS_HEADER names a header', () => {
		expect(requestAddress(request({ 'x-forwarded-for': '1.2.3.4' }), {})).toBe('127.0.0.1');
	});

	it('takes X-Forwarded-For XFF_DEPTH entries from its end: what the trusted proxy saw', () => {
		const forwarded = request({ 'x-forwarded-for': 'spoofed, 203.0.113.7, 10.0.0.1' });
		const env = { ADDRESS_HEADER: 'X-Forwarded-For' };
		expect(requestAddress(forwarded, env)).toBe('10.0.0.1');
		expect(requestAddress(forwarded, { ...env, XFF_DEPTH: '2' })).toBe('203.0.113.7');
		expect(requestAddress(forwarded, { ...env, XFF_DEPTH: '4' })).toBeUndefined();
		expect(requestAddress(request({}), env)).toBeUndefined();
		expect(
			requestAddress(request({ 'x-real-ip': ' 203.0.113.9 ' }), { ADDRESS_HEADER: 'x-real-ip' })
		).toBe('203.0.113.9');
	});
});
