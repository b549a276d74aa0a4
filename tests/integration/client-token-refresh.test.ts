// The client's half of issue 19 against a real `ws` server on 127.0.0.1 that plays the server's
// part frame by frame: a token refreshed in place on `auth.refresh`, a room the server takes away
// (`forbidden` naming a room the client holds), 4004 and 4005, and the dialects that know none of it.
import { describe, expect, it } from 'vitest';
import {
	ClientMessage,
	CloseCode,
	Connected,
	Disconnected,
	ReconnectAttempt,
	eventKeyedDialect,
	typeKeyedDialect,
	type Dialect,
	type SocketClientOptions
} from '../../src/lib/index.js';
import type { AuthContext } from '../../src/lib/client/socket-client.js';
import { defineRoute, type AuthResult } from '../../src/lib/server/index.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { errorsOf, makeClient, track } from '../kit/clients.js';
import { nextError, nextEvent, nextServerMessage, reachState, until, within } from '../kit/wait.js';
import { TestServer, type ServerPeer } from '../kit/servers/ws-server.js';

const AUTH = (token: string) => JSON.stringify({ name: 'auth', data: { token } });
const JOIN = (room: string) => JSON.stringify({ name: 'room.join', data: { room } });
const Refresh = ClientMessage.define<unknown>('auth.refresh');

/** A connected client (heartbeat off, so every frame the server sees is the client's own). */
async function open(options: SocketClientOptions = {}) {
	const server = track(await TestServer.start());
	const client = makeClient(server.url, { heartbeatInterval: 0, reconnectDelay: 1, ...options });
	client.connect();
	const peer = await server.connection(0);
	await reachState(client, 'connected');
	return { server, client, peer };
}

/** Sends a probe from the client and waits for it: every frame the client sent before it has arrived. */
async function settled(client: ReturnType<typeof makeClient>, peer: ServerPeer): Promise<string[]> {
	const probe = `probe-${Math.random()}`;
	client.send(probe);
	await peer.waitForFrame((frame) => frame.includes(probe), 'the probe');
	return peer.frames.filter((frame) => !frame.includes('probe-'));
}

/** Answers the join of `room` as a runesocket server does. */
async function acceptJoin(client: ReturnType<typeof makeClient>, peer: ServerPeer, room: string) {
	await peer.waitForFrame((frame) => frame == JOIN(room), `the join of ${room}`);
	const answered = nextServerMessage(client, 'room.joined');
	peer.deliver('room.joined', { room, offset: 0, epoch: 'e1', recovered: true });
	await answered;
}

describe('auth.refresh: a fresh token on the open connection', () => {
	it.each([
		['a sync', (token: string) => token],
		['an async', (token: string) => Promise.resolve(token)]
	])(
		'asks %s getter with refresh: true and sends its token on the same socket',
		async (_, give) => {
			const contexts: AuthContext[] = [];
			let issued = 0;
			const { server, client, peer } = await open({
				auth: (context) => {
					contexts.push(context);
					return give(`token-${++issued}`);
				}
			});
			peer.deliver('auth.refresh', { expiresIn: 30_000 });
			await peer.waitForFrame((frame) => frame == AUTH('token-2'), 'the refreshed token');
			client.send('after', 1);
			await peer.waitForFrame((frame) => frame.includes('after'), 'a message after the refresh');
			expect(peer.frames).toEqual([
				AUTH('token-1'),
				AUTH('token-2'),
				JSON.stringify({ name: 'after', data: 1 })
			]);
			expect(contexts).toEqual([
				{ attempt: 0, expired: false, refresh: false },
				{ attempt: 0, expired: false, refresh: true }
			]);
			expect(server.peers).toHaveLength(1);
			expect(client.connectionState).toBe('connected');
			expect(errorsOf(client)).toEqual([]);
		}
	);

	it.each([
		[
			'throws',
			() => {
				throw new Error('vault down');
			},
			/vault down/
		],
		['rejects', () => Promise.reject(new Error('vault down')), /vault down/],
		['returns null', () => null, /No token to refresh/],
		['returns undefined', () => undefined, /No token to refresh/]
	])(
		'reports a getter that %s as a connect error; the connection stays until the server closes it',
		async (_, refresh, message) => {
			const contexts: AuthContext[] = [];
			const { server, client, peer } = await open({
				auth: (context) => {
					contexts.push(context);
					return context.refresh ? refresh() : 'first';
				}
			});
			const reported = nextError(client, 'connect');
			peer.deliver('auth.refresh', { expiresIn: 30_000 });
			expect((await reported).message).toMatch(message);
			expect(await settled(client, peer)).toEqual([AUTH('first')]);
			expect(client.connectionState).toBe('connected');

			// The token expires unrefreshed: the server closes 4001 and the client is back at once,
			// asking for a token marked expired.
			const reconnected = nextEvent(client, ReconnectAttempt);
			peer.socket.close(CloseCode.InvalidToken, 'Token expired');
			expect((await reconnected).delay).toBe(0);
			const second = await server.connection(1);
			expect(await second.waitForFrames(1)).toEqual([AUTH('first')]);
			expect(contexts.at(-1)).toEqual({ attempt: 1, expired: true, refresh: false });
		}
	);

	it('sends nothing, and reports nothing, for a token that comes after its connection ended', async () => {
		let release: ((token: string) => void) | undefined;
		const { server, client, peer } = await open({
			auth: (context) =>
				context.refresh ? new Promise<string>((resolve) => (release = resolve)) : 'first'
		});
		peer.deliver('auth.refresh', { expiresIn: 30_000 });
		await until(() => release != undefined, 'the refresh to be asked for');
		peer.socket.close(1011, 'restart');
		const second = await server.connection(1);
		await reachState(client, 'connected');
		release!('late');
		expect(await settled(client, second)).toEqual([AUTH('first')]);
		expect(errorsOf(client)).toEqual([]);
	});

	it('answers nothing without a token getter but reports it', async () => {
		const { client, peer } = await open();
		const reported = nextError(client, 'connect');
		peer.deliver('auth.refresh', { expiresIn: 30_000 });
		expect((await reported).message).toBe('No token to refresh');
		expect(await settled(client, peer)).toEqual([]);
	});
});

describe('a room the server takes away', () => {
	it('drops a held room on a forbidden naming it: gone from joinedRooms, never rejoined, the error still raised', async () => {
		const { server, client: joined, peer } = await open();
		joined.joinRoom('a');
		joined.joinRoom('b');
		await acceptJoin(joined, peer, 'a');
		await acceptJoin(joined, peer, 'b');

		const reported = nextError(joined, 'server');
		const taken = { code: 'forbidden', message: 'No longer allowed in "a"', room: 'a' };
		peer.deliver('error', taken);
		const error = await reported;
		expect(error.code).toBe('forbidden');
		expect(error.detail).toEqual(taken);
		expect([...joined.joinedRooms]).toEqual(['b']);
		// The server left the room itself: no leave goes out.
		expect((await settled(joined, peer)).filter((frame) => frame.includes('room.leave'))).toEqual(
			[]
		);

		peer.socket.close(1011, 'restart');
		const second = await server.connection(1);
		await reachState(joined, 'connected');
		expect(await settled(joined, second)).toEqual([
			JSON.stringify({ name: 'room.join', data: { room: 'b', since: { offset: 0, epoch: 'e1' } } })
		]);
	});

	it('keeps a room whose join the forbidden answers, and asks again after a reconnect', async () => {
		const { server, client, peer } = await open();
		client.joinRoom('x');
		await peer.waitForFrame((frame) => frame == JOIN('x'), 'the join of x');
		const reported = nextError(client, 'server');
		peer.deliver('error', { code: 'forbidden', message: 'Not allowed to join "x"', room: 'x' });
		expect((await reported).code).toBe('forbidden');
		expect([...client.joinedRooms]).toEqual(['x']);

		// Answered now: a second forbidden is the server taking it away.
		peer.socket.close(1011, 'restart');
		const second = await server.connection(1);
		await acceptJoin(client, second, 'x');
		const taken = nextError(client, 'server');
		second.deliver('error', { code: 'forbidden', message: 'No longer allowed in "x"', room: 'x' });
		await taken;
		expect(client.joinedRooms.size).toBe(0);
	});

	it('keeps a room whose rejoin from a position is refused, and Connected says it did not recover', async () => {
		const { server, client, peer } = await open();
		client.joinRoom('feed', { offset: 3, epoch: 'e1' });
		peer.socket.close(1011, 'restart');
		const second = await server.connection(1);
		const connected = nextEvent(client, Connected);
		await second.waitForFrame((frame) => frame.includes('room.join'), 'the rejoin');
		second.deliver('error', {
			code: 'forbidden',
			message: 'Not allowed to join "feed"',
			room: 'feed'
		});
		expect(await connected).toEqual({ reconnected: true, recovered: false });
		expect([...client.joinedRooms]).toEqual(['feed']);
	});

	it('ignores a forbidden naming a room it does not hold, and other codes naming a held room', async () => {
		const { client, peer } = await open();
		client.joinRoom('a');
		await acceptJoin(client, peer, 'a');
		for (const data of [
			{ code: 'forbidden', message: 'nope', room: 'elsewhere' },
			{ code: 'internal_error', message: 'later', room: 'b' },
			{ code: 'rate_limited', message: 'slow down', room: 'a' }
		]) {
			const reported = nextError(client, 'server');
			peer.deliver('error', data);
			expect((await reported).detail).toEqual(data);
		}
		expect([...client.joinedRooms]).toEqual(['a']);
	});

	it('a leave function from before the drop does not leave a later join of the room', async () => {
		const { client, peer } = await open();
		const leaveOld = client.joinRoom('a');
		await acceptJoin(client, peer, 'a');
		const taken = nextError(client, 'server');
		peer.deliver('error', { code: 'forbidden', message: 'No longer allowed in "a"', room: 'a' });
		await taken;
		const leaveNew = client.joinRoom('a');
		leaveOld();
		expect([...client.joinedRooms]).toEqual(['a']);
		leaveNew();
		expect(client.joinedRooms.size).toBe(0);
		const frames = await settled(client, peer);
		expect(frames.filter((frame) => frame.includes('room.'))).toEqual([
			JOIN('a'),
			JOIN('a'),
			JSON.stringify({ name: 'room.leave', data: { room: 'a' } })
		]);
	});
});

describe('close codes 4004 and 4005', () => {
	it('stops on 4004 (session revoked) and reports why, as on 1008', async () => {
		const { client, peer } = await open();
		const attempts: unknown[] = [];
		client.on(ReconnectAttempt, (attempt) => attempts.push(attempt));
		const closed = nextError(client, 'closed');
		const disconnected = nextEvent(client, Disconnected);
		peer.socket.close(CloseCode.SessionRevoked, 'Session revoked');
		expect(await disconnected).toEqual({
			code: 4004,
			reason: 'Session revoked',
			willReconnect: false
		});
		expect((await closed).detail).toEqual({ code: 4004, reason: 'Session revoked' });
		expect(client.connectionState).toBe('disconnected');
		expect(attempts).toEqual([]);
	});

	it('backs off and reconnects after 4005 (too many connections for the user), token not marked expired', async () => {
		const contexts: AuthContext[] = [];
		const { server, client, peer } = await open({
			reconnectDelay: 200,
			auth: (context) => {
				contexts.push(context);
				return 'token';
			}
		});
		const attempt = nextEvent(client, ReconnectAttempt);
		peer.socket.close(CloseCode.TooManyUserConnections, 'Too many connections for this user');
		const { delay } = await attempt;
		expect(delay).toBeGreaterThanOrEqual(0);
		expect(delay).toBeLessThan(200);
		await server.connection(1);
		await reachState(client, 'connected');
		expect(contexts.at(-1)).toEqual({ attempt: 1, expired: false, refresh: false });
	});

	it('reconnects when reconnect is left undefined (the default, as when omitted)', async () => {
		const { server, client, peer } = await open({ reconnect: undefined });
		peer.socket.close(1011, 'restart');
		await server.connection(1);
		await reachState(client, 'connected');
	});
});

describe('dialects other than the envelope: nothing changes', () => {
	const dialects: [string, Dialect, SocketClientOptions][] = [
		['type-keyed', typeKeyedDialect, { auth: () => 'bare-token' }],
		['event-keyed', eventKeyedDialect, {}]
	];

	it.each(dialects)(
		'%s: an "auth.refresh" is an app message (no token asked, nothing sent), a forbidden error drops no room',
		async (_, protocol, options) => {
			let asked = 0;
			const auth = options.auth && (() => (asked++, 'bare-token'));
			const server = track(await TestServer.start());
			server.answerPings = false;
			const client = makeClient(server.url, { protocol, heartbeatInterval: 0, ...options, auth });
			client.joinRoom('machines');
			client.connect();
			const peer = await server.connection(0);
			await reachState(client, 'connected');

			const delivered = within(
				new Promise((resolve) => client.on(Refresh, resolve)),
				'the app message'
			);
			peer.send({ type: 'auth.refresh', expiresIn: 1_000 });
			expect(await delivered).toBeDefined();

			// Such servers answer no join: twice, so that the second cannot be a join's answer.
			for (let time = 1; time <= 2; time++) {
				const reported = nextError(client, 'server');
				peer.send({ type: 'error', code: 'forbidden', message: 'nope', room: 'machines' });
				await reported;
			}
			expect([...client.joinedRooms]).toEqual(['machines']);

			const before = [...peer.frames];
			client.send('probe', { n: 1 });
			await peer.waitForFrame((frame) => frame.includes('probe'), 'the probe');
			expect(peer.frames.slice(before.length, -1)).toEqual([]);
			expect(asked).toBe(auth ? 1 : 0);
			expect(errorsOf(client).map((error) => error.kind)).toEqual(['server', 'server']);
		}
	);
});

describe('end to end, against createSocketServer', () => {
	// Tokens are `user:ttl:flags`: how many ms the answer lasts (`none`: for good), and `vip` lets the
	// user into rooms named `vip…`.
	const Tick = ClientMessage.define<{ n: number }>('tick');
	interface User {
		id: string;
		vip: boolean;
	}
	function verify(token: string): AuthResult<User> {
		const [id, ttl, flags = ''] = token.split(':');
		const data = { id, vip: flags == 'vip' };
		return ttl == 'none'
			? { success: true, data }
			: { success: true, data, expiresAt: Date.now() + Number(ttl) };
	}

	it('refreshes in place under a steady stream (nothing lost or repeated, no reconnect) and drops the room the new token no longer allows', async () => {
		const server = await startSocketServer({
			routes: [
				defineRoute<User>({
					path: '/ws',
					firstMessageAuth: { verify },
					authorizeJoin: (connection, room) => !room.startsWith('vip') || connection.authData.vip
				})
			]
		});
		const contexts: AuthContext[] = [];
		// The first token lasts 600 ms (refreshed at half its life); the refreshed one, for good
		// and without vip.
		const client = makeClient(server.url(), {
			heartbeatInterval: 0,
			auth: (context) => {
				contexts.push(context);
				return context.refresh ? 'ada:none' : 'ada:600:vip';
			}
		});
		const received: number[] = [];
		client.on(Tick, ({ n }) => received.push(n));
		client.joinRoom('lobby');
		client.joinRoom('vip-lounge');
		const answers: string[] = [];
		client.onMessage(({ name, data }) => {
			if (name == 'room.joined') answers.push((data as { room: string }).room);
		});
		client.connect();
		// The first answer expires by then: the connection must outlive it.
		const expired = Date.now() + 600;
		await until(() => answers.length == 2, 'both joins answered');

		const taken = nextError(client, 'server');
		let sent = 0;
		const stream = setInterval(
			() => void server.sockets.publish(Tick, { n: ++sent }, { room: 'lobby' }),
			5
		);
		try {
			const error = await within(taken, 'the vip room taken away', 5_000);
			expect(error.code).toBe('forbidden');
			expect(error.detail).toMatchObject({ room: 'vip-lounge' });
			const mark = sent;
			await until(
				() => received.length >= mark + 20 && Date.now() > expired + 200,
				'more ticks, past the first token expiry'
			);
		} finally {
			clearInterval(stream);
		}
		await until(() => received.length == sent, 'the last ticks');
		expect(received).toEqual(Array.from({ length: sent }, (_, index) => index + 1));
		expect(contexts).toEqual([
			{ attempt: 0, expired: false, refresh: false },
			{ attempt: 0, expired: false, refresh: true }
		]);
		expect([...client.joinedRooms]).toEqual(['lobby']);
		expect(client.connectionState).toBe('connected');
		expect(server.sockets.connections.size).toBe(1);
		expect(errorsOf(client).map((reported) => reported.code)).toEqual(['forbidden']);
	});

	it('takes a token pushed unasked as a request (the same frame, with an id): answered once verified', async () => {
		const server = await startSocketServer({
			routes: [defineRoute<User>({ path: '/ws', firstMessageAuth: { verify } })]
		});
		const client = makeClient(server.url(), { heartbeatInterval: 0, auth: () => 'ada:none' });
		client.connect();
		await until(() => server.sockets.connections.size == 1, 'the connection on the server');
		await reachState(client, 'connected');
		const Auth = ClientMessage.define<{ token: string }>('auth');
		expect(await client.request(Auth, { token: 'ada:none:vip' })).toBeNull();
		const [connection] = server.sockets.connections;
		expect(connection.authData).toEqual({ id: 'ada', vip: true });
		const refused = nextEvent(client, Disconnected);
		client.send('auth', { token: 'bob:none' });
		expect(await refused).toMatchObject({ code: CloseCode.InvalidToken, willReconnect: true });
	});
});
