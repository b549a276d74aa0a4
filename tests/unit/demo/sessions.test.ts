import { afterEach, describe, expect, it } from 'vitest';
import { RedisDashboardStore } from '../../../src/demo/redis-store.js';
import { signSession } from '../../../src/demo/session.js';
import { DemoSessions, MemorySessionRevocations, socketAuth } from '../../../src/demo/sessions.js';
import { MemoryDashboardStore, type DashboardStore } from '../../../src/demo/store.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { until } from '../../kit/wait.js';

// Sessions against the demo's two stores: what sign-out revokes is refused everywhere the store is
// shared, and the revocation is forgotten once no token of its session can be good any more.

const ADA = { name: 'Ada', account: 'acme' };
const LIFETIME = 60_000;
/** How much longer than the lifetime a revocation is kept (sessions.ts CLOCK_SKEW). */
const SKEW = 60_000;

const closers: (() => Promise<unknown>)[] = [];
afterEach(async () => {
	await Promise.all(closers.splice(0).map((close) => close()));
});

const stores: Record<string, () => Promise<() => DashboardStore>> = {
	memory: async () => {
		const store = new MemoryDashboardStore();
		return () => store;
	},
	// Two stores on one Redis: two server processes.
	redis: async () => {
		const { url } = await startRedisServer();
		return () => {
			const store = new RedisDashboardStore(url, { retention: 60_000 });
			closers.push(() => store.close());
			return store;
		};
	}
};

/** A clock the test moves. */
function clock(start = 1_800_000_000_000) {
	let now = start;
	return { now: () => now, advance: (ms: number) => (now += ms) };
}

for (const [kind, openStore] of Object.entries(stores)) {
	describe(`sessions on the ${kind} store`, () => {
		it('verify an issued token until its expiry, and renew it under the same session', async () => {
			const time = clock();
			const sessions = new DemoSessions((await openStore())(), LIFETIME, time.now);
			const { token, expiresAt } = sessions.issue(ADA);
			expect(expiresAt).toBe(time.now() + LIFETIME);
			const { session } = await sessions.verify(token);
			expect(session).toMatchObject({ ...ADA, exp: expiresAt });

			time.advance(LIFETIME - 1);
			const renewed = sessions.issue(ADA, session!.sid);
			expect((await sessions.verify(renewed.token)).session?.sid).toBe(session!.sid);
			time.advance(1);
			expect(await sessions.verify(token)).toEqual({ refusal: 'expired' });
			expect((await sessions.verify(renewed.token)).session?.exp).toBe(renewed.expiresAt);
		});

		it('refuse every token of a revoked session, in every process sharing the store', async () => {
			const time = clock();
			const open = await openStore();
			const [here, there] = [
				new DemoSessions(open(), LIFETIME, time.now),
				new DemoSessions(open(), LIFETIME, time.now)
			];
			const { token } = here.issue(ADA);
			const sid = (await here.verify(token)).session!.sid;
			const newer = there.issue(ADA, sid).token;
			const other = here.issue(ADA).token;

			expect((await here.revoke(token))?.sid).toBe(sid);
			for (const sessions of [here, there]) {
				expect(await sessions.verify(token)).toEqual({ refusal: 'revoked' });
				expect(await sessions.verify(newer)).toEqual({ refusal: 'revoked' });
				expect((await sessions.verify(other)).session).toBeDefined();
			}
		});

		it('revoke by an expired token too: a newer token of its session may still be good', async () => {
			const time = clock();
			const sessions = new DemoSessions((await openStore())(), LIFETIME, time.now);
			const old = sessions.issue(ADA).token;
			const { sid } = (await sessions.verify(old)).session!;
			time.advance(LIFETIME / 2);
			const newer = sessions.issue(ADA, sid).token;
			time.advance(LIFETIME / 2);
			expect(await sessions.verify(old)).toEqual({ refusal: 'expired' });
			await sessions.revoke(old);
			expect(await sessions.verify(newer)).toEqual({ refusal: 'revoked' });
		});

		it('revoke nothing for a token that is not theirs', async () => {
			const sessions = new DemoSessions((await openStore())(), LIFETIME);
			const { token } = sessions.issue(ADA);
			expect(await sessions.revoke(undefined)).toBeUndefined();
			expect(await sessions.revoke(`${token}.${token.split('.')[1]}`)).toBeUndefined();
			expect(await sessions.revoke('not a token')).toBeUndefined();
			expect((await sessions.verify(token)).session).toBeDefined();
			expect(await sessions.verify(`${token}.x`)).toEqual({ refusal: 'invalid' });
		});
	});
}

describe('revocations', () => {
	it('are kept while a token of their session could be good, and then forgotten', async () => {
		const time = clock();
		const revocations = new MemorySessionRevocations(time.now);
		const sessions = new DemoSessions(revocations, LIFETIME, time.now);
		const { token } = sessions.issue(ADA);
		const { sid } = (await sessions.verify(token)).session!;
		await sessions.revoke(token);
		time.advance(LIFETIME + SKEW - 1);
		expect(await revocations.isSessionRevoked(sid)).toBe(true);
		time.advance(1);
		expect(await revocations.isSessionRevoked(sid)).toBe(false);
	});

	it('expire in memory on the store clock, oldest first, keeping the others', async () => {
		const time = clock();
		const revocations = new MemorySessionRevocations(time.now);
		await revocations.revokeSession('first', 1_000);
		time.advance(500);
		await revocations.revokeSession('second', 1_000);
		time.advance(499);
		expect(await revocations.isSessionRevoked('first')).toBe(true);
		time.advance(1);
		expect(await revocations.isSessionRevoked('first')).toBe(false);
		expect(await revocations.isSessionRevoked('second')).toBe(true);
		// Revoked again: kept from now, not from the first time.
		await revocations.revokeSession('second', 1_000);
		time.advance(999);
		expect(await revocations.isSessionRevoked('second')).toBe(true);
	});

	it('expire in Redis after their ttl, by themselves', async () => {
		const { url } = await startRedisServer();
		const store = new RedisDashboardStore(url, { retention: 60_000 });
		closers.push(() => store.close());
		await store.revokeSession('short-lived', 50);
		await store.revokeSession('long-lived', 60_000);
		expect(await store.isSessionRevoked('short-lived')).toBe(true);
		await until(
			async () => !(await store.isSessionRevoked('short-lived')),
			'the revocation to expire',
			{
				ms: 2_000,
				everyMs: 10
			}
		);
		expect(await store.isSessionRevoked('long-lived')).toBe(true);
	});

	it('are checked with the token: a token signed elsewhere for a revoked sid is refused', async () => {
		const store = new MemoryDashboardStore();
		const sessions = new DemoSessions(store, LIFETIME);
		const sid = 'BBBBBBBBBBBBBBBBBBBBBB';
		await store.revokeSession(sid, LIFETIME);
		expect(await sessions.verify(signSession(ADA, { sid, lifetime: LIFETIME }))).toEqual({
			refusal: 'revoked'
		});
	});
});

describe("the socket route's answer", () => {
	it('accepts a live session until its expiry, and refuses the others with their code', async () => {
		const time = clock();
		const sessions = new DemoSessions(new MemorySessionRevocations(time.now), LIFETIME, time.now);
		const { token, expiresAt } = sessions.issue(ADA);
		const accepted = await socketAuth(sessions, token);
		expect(accepted).toEqual({
			success: true,
			data: { ...ADA, sid: expect.any(String), exp: expiresAt },
			expiresAt
		});
		expect(await socketAuth(sessions, `${token}.${token}`)).toEqual({
			success: false,
			reason: 'Sign in again'
		});
		time.advance(LIFETIME);
		expect(await socketAuth(sessions, token)).toEqual({
			success: false,
			reason: 'Session expired'
		});
		const live = sessions.issue(ADA).token;
		await sessions.revoke(live);
		expect(await socketAuth(sessions, live)).toEqual({
			success: false,
			code: 4004,
			reason: 'Session revoked'
		});
	});
});
