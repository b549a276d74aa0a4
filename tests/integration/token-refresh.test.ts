import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { ClientMessage, Disconnected, type SocketClient } from '../../src/lib/index.js';
import type { AuthContext } from '../../src/lib/client/socket-client.js';
import {
	defineRoute,
	type AuthResult,
	type Connection,
	type RouteOptions
} from '../../src/lib/server/index.js';
import { DeadlineError } from '../../src/lib/engine/errors.js';
import { parseEnvelope, type Envelope } from '../kit/envelope.js';
import {
	connectRaw,
	deferred,
	serverConnection,
	tagged,
	type WsPeer
} from '../kit/peers/ws-peer.js';
import { startSocketServer, type RunningServer } from '../kit/servers/socket-server.js';
import { makeClient } from '../kit/clients.js';
import { nextError, nextEvent, reachState, until, within } from '../kit/wait.js';

// Token refresh on real sockets (PROTOCOL.md, "Token refresh"). Tokens are `user:ttl[:flag,…]`: the
// user, how many ms the answer lasts (`none`: no expiry), and flags (`vip` lets a user into rooms
// named `vip…`). Expiries are short and real; every wait is for an event, with a deadline.

interface User {
	id: string;
	flags: readonly string[];
}

const Tick = ClientMessage.define<{ n: number }>('tick');

/** Node's timers may fire a millisecond or two early as `Date.now()` counts: `expiresIn` may be that much over. */
const CLOCK_SLACK_MS = 2;

/** A token for `user` that lasts `ttl` ms (`none`: forever). */
function token(user: string, ttl: number | 'none', flags: readonly string[] = []): string {
	return [user, String(ttl), flags.join(',')].join(':');
}

/** What an app's verifier does with those tokens; `refuse`, `custom`, `throws` and `hangs` misbehave. */
function verifyToken(value: string): AuthResult<User> | Promise<AuthResult<User>> {
	if (value == 'refuse') return { success: false, reason: 'Session ended' };
	if (value == 'custom') return { success: false, code: 4100, reason: 'Custom refusal' };
	if (value == 'throws') throw new Error('verify threw');
	if (value == 'hangs') return new Promise(() => {});
	const [id, ttl, flags = ''] = value.split(':');
	const data: User = { id, flags: flags ? flags.split(',') : [] };
	if (ttl == 'none') return { success: true, data };
	return { success: true, data, expiresAt: Date.now() + Number(ttl) };
}

function route(extra: Partial<RouteOptions<User>> = {}): RouteOptions<unknown> {
	return defineRoute<User>({
		path: '/ws',
		firstMessageAuth: { verify: (value) => verifyToken(value), timeout: 300 },
		authorizeJoin: (connection, room) =>
			!room.startsWith('vip') || connection.authData.flags.includes('vip'),
		...extra
	});
}

/** A server with the route, whose `onError` reports are collected. */
async function serve(extra: Partial<RouteOptions<User>> = {}) {
	const reported: Error[] = [];
	const server = await startSocketServer({
		routes: [route({ onError: (_connection, error) => void reported.push(error), ...extra })]
	});
	return { server, reported };
}

/** A raw client authenticated by the first frame with `value`, once `connected` arrived. */
async function connectWith(server: RunningServer, value: string, tag = 'peer'): Promise<WsPeer> {
	const peer = await connectRaw(server.url(), tagged(tag));
	peer.send({ name: 'auth', data: { token: value } });
	await peer.nextMessage('connected');
	return peer;
}

/** Joins `room` and waits for the join's answer. */
async function join(peer: WsPeer, room: string, id: number): Promise<Envelope> {
	peer.send({ name: 'room.join', data: { room }, id });
	return answerTo(peer, id);
}

/** The answer (`reply`, `room.joined` or `error`) to request `id`. */
function answerTo(peer: WsPeer, id: number, ms = 5_000): Promise<Envelope> {
	return within(
		(async () => {
			await until(() => peer.messages.some((message) => message.id === id), `answer ${id}`, { ms });
			return peer.messages.find((message) => message.id === id)!;
		})(),
		`the answer to request ${id}`,
		ms + 100
	);
}

/** Answers every `auth.refresh` with the token `next()` gives, as a request numbered from `firstId`. */
function answerRefreshes(peer: WsPeer, next: () => string, firstId = 1_000): Envelope[] {
	const asked: Envelope[] = [];
	let id = firstId;
	peer.socket.on('message', (data) => {
		const message = parseEnvelope(data.toString());
		if (message?.name != 'auth.refresh') return;
		asked.push(message);
		peer.send({ name: 'auth', data: { token: next() }, id: id++ });
	});
	return asked;
}

/** The `auth.refresh` messages a peer received. */
function refreshesOf(peer: WsPeer): Envelope[] {
	return peer.messages.filter((message) => message.name == 'auth.refresh');
}

describe('token refresh in place', () => {
	it('renews a short-lived token three times under a steady stream: nothing lost, nothing twice, no reconnect', async () => {
		const { server, reported } = await serve({ tokenRefresh: { lead: 150 } });
		const peer = await connectWith(server, token('alice', 400));
		expect(await join(peer, 'feed', 1)).toMatchObject({ name: 'room.joined' });
		const asked = answerRefreshes(peer, () => token('alice', 400));
		let sent = 0;
		const feed = setInterval(() => void server.sockets.to('feed').emit(Tick, { n: ++sent }), 2);
		try {
			// Each token lasts 400 ms and is renewed 150 ms before it ends: three renewals take ~750 ms.
			await until(() => asked.length >= 3, 'three auth.refresh', { ms: 3_000 });
			await answerTo(peer, 1_002);
		} finally {
			clearInterval(feed);
		}
		await until(() => ticksOf(peer).at(-1) == sent, 'the last tick', { ms: 2_000 });
		const ticks = ticksOf(peer);
		expect(ticks.length).toBeGreaterThan(100);
		expect(ticks).toEqual(Array.from({ length: ticks.length }, (_, index) => ticks[0] + index));
		for (const id of [1_000, 1_001, 1_002]) {
			expect(await answerTo(peer, id)).toMatchObject({ name: 'reply', data: null });
		}
		for (const message of asked) {
			const { expiresIn } = message.data as { expiresIn: number };
			expect(expiresIn).toBeGreaterThan(0);
			expect(expiresIn).toBeLessThanOrEqual(150 + CLOCK_SLACK_MS);
		}
		expect(peer.messages.filter((message) => message.name == 'connected')).toHaveLength(1);
		expect(peer.socket.readyState).toBe(peer.socket.OPEN);
		expect(server.sockets.connections.size).toBe(1);
		expect(reported).toEqual([]);
	});

	it('asks at half the time left when that is shorter than the lead (default 60 s)', async () => {
		const { server } = await serve();
		const connectedAt = Date.now();
		const peer = await connectWith(server, token('alice', 600));
		const asked = await peer.nextMessage('auth.refresh', 2_000);
		const askedAfter = Date.now() - connectedAt;
		expect(askedAfter).toBeGreaterThanOrEqual(280);
		const { expiresIn } = asked.data as { expiresIn: number };
		expect(expiresIn).toBeGreaterThan(0);
		expect(expiresIn).toBeLessThanOrEqual(300 + CLOCK_SLACK_MS);
	});

	it('replaces the auth data: frames after the reply are handled as the refreshed user', async () => {
		const { server } = await serve();
		const peer = await connectWith(server, token('alice', 'none'));
		const connection = serverConnection(server.sockets, 'peer') as Connection<User>;
		expect(connection.authData.flags).toEqual([]);
		// Unprompted, on a connection whose token never expires.
		peer.send({ name: 'auth', data: { token: token('alice', 'none', ['vip']) }, id: 1 });
		expect(await answerTo(peer, 1)).toMatchObject({ name: 'reply', data: null });
		expect(connection.authData.flags).toEqual(['vip']);
		expect(connection.userId).toBe('alice');
		expect(await join(peer, 'vip-lounge', 2)).toMatchObject({ name: 'room.joined' });
		expect(refreshesOf(peer)).toEqual([]);
	});

	it('closes with 4001 "Token expired" at expiry when no token came', async () => {
		const { server } = await serve({ tokenRefresh: { lead: 200 } });
		const connectedAt = Date.now();
		const peer = await connectWith(server, token('alice', 500));
		await peer.nextMessage('auth.refresh', 2_000);
		expect(await peer.closedWithin(2_000)).toEqual({ code: 4001, reason: 'Token expired' });
		expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(480);
		expect(refreshesOf(peer)).toHaveLength(1);
	});

	it('closes with 4001 and the reason when the refreshed token is refused, or with its own 4xxx code', async () => {
		const { server } = await serve();
		const peer = await connectWith(server, token('alice', 'none'));
		peer.send({ name: 'auth', data: { token: 'refuse' }, id: 1 });
		expect(await peer.closedWithin()).toEqual({ code: 4001, reason: 'Session ended' });
		expect(peer.messages.some((message) => message.id === 1)).toBe(false);

		const other = await connectWith(server, token('alice', 'none'));
		other.send({ name: 'auth', data: { token: 'custom' } });
		expect(await other.closedWithin()).toEqual({ code: 4100, reason: 'Custom refusal' });
		expect(server.sockets.metricsSnapshot().authRefused).toMatchObject({ 4001: 1, 4100: 1 });
	});

	it('closes with 4001 "Token is for another user" when the token names someone else', async () => {
		const { server } = await serve({ tokenRefresh: { lead: 100 } });
		const peer = await connectWith(server, token('alice', 300));
		const connection = serverConnection(server.sockets, 'peer');
		answerRefreshes(peer, () => token('bob', 300));
		expect(await peer.closedWithin(2_000)).toEqual({
			code: 4001,
			reason: 'Token is for another user'
		});
		expect((connection.authData as User).id).toBe('alice');
	});

	it('refuses a refreshed token that has expired already', async () => {
		const { server } = await serve();
		const peer = await connectWith(server, token('alice', 'none'));
		peer.send({ name: 'auth', data: { token: token('alice', -1) }, id: 1 });
		expect(await peer.closedWithin()).toEqual({ code: 4001, reason: 'Token expired' });
	});

	it('refuses a first token that has expired already, before connected', async () => {
		const { server } = await serve();
		const peer = await connectRaw(server.url());
		peer.send({ name: 'auth', data: { token: token('alice', -1) } });
		expect(await peer.closedWithin()).toEqual({ code: 4001, reason: 'Token expired' });
		expect(peer.messages).toEqual([]);
	});

	it('answers an auth frame without a token malformed, and stays open', async () => {
		const { server } = await serve();
		const peer = await connectWith(server, token('alice', 'none'));
		peer.send({ name: 'auth', data: { token: '' }, id: 1 });
		peer.send({ name: 'auth', data: 'alice', id: 2 });
		for (const id of [1, 2]) {
			expect(await answerTo(peer, id)).toMatchObject({
				name: 'error',
				data: { code: 'malformed', message: expect.stringMatching(/needs \{"token": string\}/) }
			});
		}
		await peer.roundTrip();
		expect(peer.socket.readyState).toBe(peer.socket.OPEN);
	});
});

describe('a verifier that fails', () => {
	it('one that throws is reported; the request is answered internal_error and the old auth lasts until expiry', async () => {
		const { server, reported } = await serve({ tokenRefresh: { lead: 250 } });
		const connectedAt = Date.now();
		const peer = await connectWith(server, token('alice', 500));
		await peer.nextMessage('auth.refresh', 2_000);
		peer.send({ name: 'auth', data: { token: 'throws' }, id: 1 });
		expect(await answerTo(peer, 1)).toMatchObject({
			name: 'error',
			data: { code: 'internal_error' }
		});
		expect(reported.map((error) => error.message)).toEqual(['verify threw']);
		expect(await join(peer, 'feed', 2)).toMatchObject({ name: 'room.joined' });
		expect(await peer.closedWithin(2_000)).toEqual({ code: 4001, reason: 'Token expired' });
		expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(480);
	});

	it('one that hangs past the auth timeout is reported as a DeadlineError, and the connection stays open', async () => {
		const { server, reported } = await serve();
		const peer = await connectWith(server, token('alice', 'none'));
		const sentAt = Date.now();
		peer.send({ name: 'auth', data: { token: 'hangs' }, id: 1 });
		expect(await answerTo(peer, 1)).toMatchObject({ data: { code: 'internal_error' } });
		expect(Date.now() - sentAt).toBeGreaterThanOrEqual(280);
		expect(reported).toHaveLength(1);
		expect(reported[0]).toBeInstanceOf(DeadlineError);
		expect(await join(peer, 'feed', 2)).toMatchObject({ name: 'room.joined' });
	});

	it('only the newest of overlapping refreshes counts: a slower, older refusal is ignored', async () => {
		const slow = deferred<AuthResult<User>>();
		const { server } = await serve({
			tokenRefresh: {
				verify: (value) => (value == 'slow-refusal' ? slow.promise : verifyToken(value))
			}
		});
		const peer = await connectWith(server, token('alice', 'none'));
		peer.send({ name: 'auth', data: { token: 'slow-refusal' }, id: 1 });
		peer.send({ name: 'auth', data: { token: token('alice', 'none', ['vip']) }, id: 2 });
		// The newest one's outcome answers both requests.
		expect(await answerTo(peer, 2)).toMatchObject({ name: 'reply', data: null });
		expect(await answerTo(peer, 1)).toMatchObject({ name: 'reply', data: null });
		slow.resolve({ success: false, reason: 'Too late' });
		await peer.roundTrip();
		expect(await join(peer, 'vip-room', 3)).toMatchObject({ name: 'room.joined' });
		expect(peer.socket.readyState).toBe(peer.socket.OPEN);
	});

	it('keeps dispatching frames under the old auth data while a token is verified', async () => {
		const slow = deferred<AuthResult<User>>();
		const { server } = await serve({
			tokenRefresh: { verify: (value) => (value == 'slow' ? slow.promise : verifyToken(value)) }
		});
		const peer = await connectWith(server, token('alice', 'none'));
		peer.send({ name: 'auth', data: { token: 'slow' }, id: 1 });
		expect(await join(peer, 'vip-room', 2)).toMatchObject({ name: 'error' });
		expect(await join(peer, 'feed', 3)).toMatchObject({ name: 'room.joined' });
		slow.resolve({ success: true, data: { id: 'alice', flags: ['vip'] } });
		expect(await answerTo(peer, 1)).toMatchObject({ name: 'reply' });
		expect(await join(peer, 'vip-room', 4)).toMatchObject({ name: 'room.joined' });
	});
});

describe('the rooms after a refresh', () => {
	it('leaves a room no longer allowed, telling the client forbidden without an id; other rooms stay', async () => {
		const { server } = await serve();
		const peer = await connectWith(server, token('alice', 'none', ['vip']));
		const connection = serverConnection(server.sockets, 'peer');
		await join(peer, 'vip-lounge', 1);
		await join(peer, 'feed', 2);
		peer.send({ name: 'auth', data: { token: token('alice', 'none') }, id: 3 });
		expect(await answerTo(peer, 3)).toMatchObject({ name: 'reply', data: null });
		const refused = await peer.nextMessage('error');
		expect(refused).toMatchObject({
			name: 'error',
			data: { code: 'forbidden', message: 'No longer allowed in "vip-lounge"', room: 'vip-lounge' }
		});
		expect(refused.id).toBeUndefined();
		expect([...connection.joinedRooms]).toEqual(['feed']);
		await server.sockets.to('vip-lounge').emit(Tick, { n: 1 });
		await server.sockets.to('feed').emit(Tick, { n: 2 });
		await until(() => ticksOf(peer).includes(2), 'the feed tick');
		expect(ticksOf(peer)).toEqual([2]);
		expect(peer.messages.filter((message) => message.name == 'error')).toHaveLength(1);
	});

	it('a join decided while a refresh replaced the auth data is decided again for the new data', async () => {
		const gate = deferred();
		const { server } = await serve({
			authorizeJoin: async (connection, room) => {
				const allowed = !room.startsWith('vip') || connection.authData.flags.includes('vip');
				if (room == 'vip-slow') await gate.promise;
				return allowed;
			}
		});
		const peer = await connectWith(server, token('alice', 'none', ['vip']));
		peer.send({ name: 'room.join', data: { room: 'vip-slow' }, id: 1 });
		peer.send({ name: 'auth', data: { token: token('alice', 'none') }, id: 2 });
		await answerTo(peer, 2);
		gate.resolve();
		expect(await answerTo(peer, 1)).toMatchObject({
			name: 'error',
			data: { code: 'forbidden', room: 'vip-slow' }
		});
		expect(serverConnection(server.sockets, 'peer').joinedRooms.size).toBe(0);
	});

	it('keeps a room whose check throws after the refresh, and reports it', async () => {
		let checks = 0;
		const { server, reported } = await serve({
			authorizeJoin: () => {
				if (++checks > 1) throw new Error('authorizeJoin threw');
				return true;
			}
		});
		const peer = await connectWith(server, token('alice', 'none'));
		const connection = serverConnection(server.sockets, 'peer');
		await join(peer, 'feed', 1);
		peer.send({ name: 'auth', data: { token: token('alice', 'none') }, id: 2 });
		await answerTo(peer, 2);
		await until(() => reported.length == 1, 'the report');
		expect(reported[0].message).toBe('authorizeJoin threw');
		expect([...connection.joinedRooms]).toEqual(['feed']);
		expect(peer.messages.filter((message) => message.name == 'error')).toEqual([]);
	});
});

describe('routes that authenticate at the upgrade', () => {
	/** Authenticates `?token=` with `verifyToken`. */
	const byQuery = (request: IncomingMessage) =>
		verifyToken(new URL(request.url ?? '', 'http://x').searchParams.get('token') ?? '');

	it('without tokenRefresh.verify: no auth.refresh, 4001 at expiry, and an auth frame is answered malformed', async () => {
		const server = await startSocketServer({
			routes: [defineRoute<User>({ path: '/ws', authenticate: byQuery })]
		});
		const connectedAt = Date.now();
		const peer = await connectRaw(server.url(`/ws?token=${token('alice', 400)}`));
		await peer.nextMessage('connected');
		peer.send({ name: 'auth', data: { token: token('alice', 400) }, id: 1 });
		expect(await answerTo(peer, 1)).toMatchObject({
			name: 'error',
			data: { code: 'malformed', message: expect.stringMatching(/No token is expected/) }
		});
		expect(await peer.closedWithin(2_000)).toEqual({ code: 4001, reason: 'Token expired' });
		expect(Date.now() - connectedAt).toBeGreaterThanOrEqual(380);
		expect(refreshesOf(peer)).toEqual([]);
	});

	it('with tokenRefresh.verify: refreshed in place, the verifier given the connection', async () => {
		const verified: Connection<User>[] = [];
		const server = await startSocketServer({
			routes: [
				defineRoute<User>({
					path: '/ws',
					authenticate: byQuery,
					tokenRefresh: {
						lead: 150,
						verify: (value, connection) => {
							verified.push(connection);
							return verifyToken(value);
						}
					}
				})
			]
		});
		const peer = await connectRaw(server.url(`/ws?token=${token('alice', 300)}`), tagged('up'));
		await peer.nextMessage('connected');
		answerRefreshes(peer, () => token('alice', 300));
		await answerTo(peer, 1_001, 3_000);
		expect(verified.length).toBeGreaterThanOrEqual(2);
		expect(verified[0]).toBe(serverConnection(server.sockets, 'up'));
		expect(peer.socket.readyState).toBe(peer.socket.OPEN);
	});

	it('closes a connection whose answer has expired already with 4001 right after the upgrade', async () => {
		const server = await startSocketServer({
			routes: [defineRoute<User>({ path: '/ws', authenticate: byQuery })]
		});
		const peer = await connectRaw(server.url(`/ws?token=${token('alice', -1)}`));
		expect(await peer.closedWithin()).toEqual({ code: 4001, reason: 'Token expired' });
		expect(peer.messages).toEqual([]);
	});
});

/** The `n` of every tick a peer received, in order. */
function ticksOf(peer: WsPeer): number[] {
	return peer.messages
		.filter((message) => message.name == 'tick')
		.map((message) => (message.data as { n: number }).n);
}

describe('with SocketClient', () => {
	/** A client whose getter hands out `issue(context)` and records every context it was asked with. */
	function refreshingClient(server: RunningServer, issue: (context: AuthContext) => string) {
		const contexts: AuthContext[] = [];
		const client = makeClient(server.url(), {
			heartbeatInterval: 0,
			reconnectDelay: 1,
			auth: (context) => {
				contexts.push(context);
				return issue(context);
			}
		});
		const closes: number[] = [];
		client.on(Disconnected, ({ code }) => void closes.push(code));
		return { client, contexts, closes };
	}

	/** The ticks a client's handler saw, in order. */
	function ticksIn(client: SocketClient): number[] {
		const ticks: number[] = [];
		client.on(Tick, ({ n }) => void ticks.push(n));
		return ticks;
	}

	it('renews in place under a steady stream: the getter told refresh, nothing lost or repeated, no reconnect', async () => {
		const { server, reported } = await serve({ tokenRefresh: { lead: 150 } });
		const { client, contexts, closes } = refreshingClient(server, () => token('alice', 400));
		const ticks = ticksIn(client);
		client.joinRoom('feed');
		client.connect();
		await reachState(client, 'connected');
		await until(() => server.sockets.connections.size == 1, 'the server connection');
		const [connection] = server.sockets.connections;
		await until(() => connection.joinedRooms.has('feed'), 'the join');
		let sent = 0;
		const feed = setInterval(() => void server.sockets.to('feed').emit(Tick, { n: ++sent }), 2);
		try {
			await until(
				() => contexts.filter((context) => context.refresh).length >= 3,
				'three refreshes',
				{
					ms: 3_000
				}
			);
		} finally {
			clearInterval(feed);
		}
		await until(() => ticks.at(-1) == sent, 'the last tick', { ms: 2_000 });
		expect(ticks).toEqual(Array.from({ length: sent }, (_, index) => index + 1));
		expect(contexts[0]).toEqual({ attempt: 0, expired: false, refresh: false });
		expect(contexts.slice(1).every((context) => context.refresh && !context.expired)).toBe(true);
		expect(closes).toEqual([]);
		expect([...server.sockets.connections]).toEqual([connection]);
		expect(reported).toEqual([]);
	});

	it('a room no longer allowed after a refresh: gone from joinedRooms with a forbidden error, not rejoined on reconnect', async () => {
		const { server } = await serve();
		let flags = ['vip'];
		const { client } = refreshingClient(server, () => token('alice', 'none', flags));
		client.joinRoom('vip-lounge');
		client.joinRoom('feed');
		client.connect();
		await reachState(client, 'connected');
		await until(() => server.sockets.connections.size == 1, 'the server connection');
		const [connection] = server.sockets.connections;
		await until(() => connection.joinedRooms.size == 2, 'both joins');
		flags = [];
		const refused = nextError(client, 'server');
		// The app has a new token (its roles changed): pushed unasked, as a server-side refresh would be.
		connection.send({ name: 'auth.refresh', data: { expiresIn: 60_000 }, timestamp: Date.now() });
		expect((await refused).detail).toEqual({
			code: 'forbidden',
			message: 'No longer allowed in "vip-lounge"',
			room: 'vip-lounge'
		});
		expect([...client.joinedRooms]).toEqual(['feed']);
		expect([...connection.joinedRooms]).toEqual(['feed']);

		connection.close(1011, 'restart');
		await nextEvent(client, Disconnected);
		await reachState(client, 'connected');
		await until(() => server.sockets.connections.size == 1, 'the new server connection');
		const [again] = server.sockets.connections;
		await until(() => again.joinedRooms.size == 1, 'the rejoin');
		expect([...again.joinedRooms]).toEqual(['feed']);
	});

	it('a getter that cannot refresh: closed with 4001 at expiry, then back at once with expired: true', async () => {
		const { server } = await serve({ tokenRefresh: { lead: 200 } });
		const { client, contexts, closes } = refreshingClient(server, (context) => {
			if (context.refresh) throw new Error('offline');
			return token('alice', 500);
		});
		client.connect();
		await reachState(client, 'connected');
		const dropped = nextEvent(client, Disconnected, 3_000);
		expect((await dropped).code).toBe(4001);
		await reachState(client, 'connected');
		expect(closes).toEqual([4001]);
		expect(contexts.map(({ expired, refresh }) => ({ expired, refresh }))).toEqual([
			{ expired: false, refresh: false },
			{ expired: false, refresh: true },
			{ expired: true, refresh: false }
		]);
	});
});
