import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { IncomingMessage } from 'node:http';
import type { Connection } from '../../../../src/lib/server/connection.js';
import type { RouteOptions } from '../../../../src/lib/server/options.js';
import { Route } from '../../../../src/lib/server/route.js';
import {
	refreshAt,
	TokenRefresh,
	type RefreshOwner
} from '../../../../src/lib/server/session/token-refresh.js';

// The clock of a token refresh: when `auth.refresh` is sent and when the connection is closed, for
// lifetimes too long to wait for (an hour, forty days) and the boundaries of the lead. Fake time
// only; what flows on real sockets is in tests/integration/token-refresh.test.ts.

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** What the refresh did to its connection and session, in order. */
type Event =
	| { sent: string; data: unknown }
	| { closed: number; reason: string }
	| { refused: number; reason: string }
	| 'renewed';

/** A refresh on a stub connection of a route with `options`, recording what it does. */
function refreshOn(options: Partial<RouteOptions<unknown>>) {
	const route = new Route({ path: '/ws', heartbeat: 0, ...options });
	const events: Event[] = [];
	let authData: unknown = { id: 'alice' };
	const connection = {
		req: {} as IncomingMessage,
		get authData() {
			return authData;
		},
		userId: 'alice',
		sendReserved: (name: string, data: unknown) => void events.push({ sent: name, data }),
		fail: (code: string, message: string) =>
			void events.push({ sent: 'error', data: { code, message } }),
		authenticate: (data: unknown) => void (authData = data)
	} as unknown as Connection<unknown>;
	const owner: RefreshOwner = {
		connection,
		route,
		refuse: (code, reason) => void events.push({ refused: code, reason }),
		close: (code, reason) => void events.push({ closed: code, reason }),
		renewed: () => void events.push('renewed'),
		report: (error) => {
			throw error;
		}
	};
	return { refresh: new TokenRefresh(owner), events, route };
}

const byFirstMessage = {
	firstMessageAuth: {
		verify: (token: string) => ({ success: true, data: { id: token.split(':')[0] } })
	}
};

beforeEach(() => {
	vi.useFakeTimers({ now: 1_000_000 });
});

afterEach(() => {
	vi.useRealTimers();
});

describe('when auth.refresh is sent', () => {
	it('60 s before an hour-long answer expires (the default lead), then 4001 at expiry', () => {
		const { refresh, events } = refreshOn(byFirstMessage);
		refresh.start(Date.now() + HOUR);
		expect(refresh.lease).toBe('valid');
		vi.advanceTimersByTime(HOUR - 60_000 - 1);
		expect(events).toEqual([]);
		vi.advanceTimersByTime(1);
		expect(events).toEqual([{ sent: 'auth.refresh', data: { expiresIn: 60_000 } }]);
		expect(refresh.lease).toBe('due');
		vi.advanceTimersByTime(60_000 - 1);
		expect(events).toHaveLength(1);
		vi.advanceTimersByTime(1);
		expect(events.at(-1)).toEqual({ closed: 4001, reason: 'Token expired' });
	});

	it('at half the time left when that is less than the lead', () => {
		const { refresh, events } = refreshOn({ ...byFirstMessage, tokenRefresh: { lead: 30_000 } });
		refresh.start(Date.now() + 10_000);
		vi.advanceTimersByTime(4_999);
		expect(events).toEqual([]);
		vi.advanceTimersByTime(1);
		expect(events).toEqual([{ sent: 'auth.refresh', data: { expiresIn: 5_000 } }]);
	});

	it('never at once for an answer that lasts past the longest timer (40 days)', () => {
		const { refresh, events } = refreshOn(byFirstMessage);
		refresh.start(Date.now() + 40 * DAY);
		vi.advanceTimersByTime(30 * DAY);
		expect(events).toEqual([]);
		vi.advanceTimersByTime(10 * DAY - 60_000);
		expect(events).toEqual([{ sent: 'auth.refresh', data: { expiresIn: 60_000 } }]);
		vi.advanceTimersByTime(60_000);
		expect(events.at(-1)).toEqual({ closed: 4001, reason: 'Token expired' });
	});

	it('never on a route without a refresh verifier: it only closes at expiry', () => {
		const { refresh, events } = refreshOn({ authenticate: () => ({ success: true, data: {} }) });
		refresh.start(Date.now() + HOUR);
		expect(refresh.lease).toBe('due');
		vi.advanceTimersByTime(HOUR);
		expect(events).toEqual([{ closed: 4001, reason: 'Token expired' }]);
	});

	it('from tokenRefresh.verify when an authenticate route has one', () => {
		const { refresh, events } = refreshOn({
			authenticate: () => ({ success: true, data: {} }),
			tokenRefresh: { lead: 1_000, verify: () => ({ success: true, data: {} }) }
		});
		refresh.start(Date.now() + 10_000);
		vi.advanceTimersByTime(9_000);
		expect(events).toEqual([{ sent: 'auth.refresh', data: { expiresIn: 1_000 } }]);
	});

	it('refreshAt caps the lead to half the life, and never goes before now', () => {
		const route = new Route({ path: '/ws', heartbeat: 0, tokenRefresh: { lead: 100 } });
		expect(refreshAt(route, 10_000, 0)).toBe(9_900);
		expect(refreshAt(route, 100, 0)).toBe(50);
		expect(refreshAt(route, 0, 100)).toBe(0);
	});
});

describe('an accepted refresh', () => {
	it('reschedules from its own expiry, or stops the clock when it has none', async () => {
		const { refresh, events } = refreshOn({
			...byFirstMessage,
			tokenRefresh: {
				verify: (token) =>
					token == 'forever'
						? { success: true, data: { id: 'alice' } }
						: { success: true, data: { id: 'alice' }, expiresAt: Date.now() + HOUR }
			}
		});
		refresh.start(Date.now() + 10 * 60_000);
		vi.advanceTimersByTime(9 * 60_000);
		refresh.receive({ token: 'hour' }, 1);
		await vi.advanceTimersByTimeAsync(0);
		expect(events.slice(1)).toEqual([{ sent: 'reply', data: null }, 'renewed']);
		vi.advanceTimersByTime(HOUR - 60_000);
		expect(events.at(-1)).toEqual({ sent: 'auth.refresh', data: { expiresIn: 60_000 } });
		refresh.receive({ token: 'forever' }, undefined);
		await vi.advanceTimersByTimeAsync(0);
		expect(refresh.lease).toBe('open-ended');
		expect(vi.getTimerCount()).toBe(0);
	});

	it('ends: nothing more is scheduled or answered', async () => {
		const { refresh, events } = refreshOn(byFirstMessage);
		refresh.start(Date.now() + HOUR);
		refresh.receive({ token: 'alice' }, 1);
		refresh.end();
		// The verification under way settles (its deadline's timer goes with it), unanswered.
		await vi.advanceTimersByTimeAsync(0);
		expect(vi.getTimerCount()).toBe(0);
		await vi.advanceTimersByTimeAsync(HOUR);
		expect(events).toEqual([]);
		refresh.start(Date.now() + HOUR);
		expect(refresh.lease).toBe('ended');
		expect(vi.getTimerCount()).toBe(0);
	});
});
