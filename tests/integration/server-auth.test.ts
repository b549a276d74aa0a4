import type { IncomingMessage } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Disconnected } from '../../src/lib/index.js';
import { type AuthContext } from '../../src/lib/client/socket-client.js';
import {
	defineRoute,
	tokenFromCookie,
	tokenFromHeader,
	tokenFromQuery,
	type AuthResult,
	type Connection
} from '../../src/lib/server/index.js';
import type { IncomingMessageFrame } from '../../src/lib/server/options.js';
import { makeClient } from '../kit/clients.js';
import {
	answerEchoes,
	authFrame,
	BEARER_ALICE,
	Echo,
	firstMessageRoute,
	userFor,
	type User
} from '../kit/auth-users.js';
import {
	connectRaw,
	deferred,
	refusedUpgrade,
	serverConnection,
	tagged
} from '../kit/peers/ws-peer.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { nextEvent, nextServerMessage, within } from '../kit/wait.js';

afterEach(() => {
	vi.restoreAllMocks();
});

describe('authentication at upgrade, from the Authorization header', () => {
	it('accepts a valid Bearer token and sends connected with the id and connectedData', async () => {
		const connections: Connection<User>[] = [];
		const server = await startSocketServer({
			routes: [
				defineRoute<User>({
					path: '/ws',
					authenticate: (request) => userFor(tokenFromHeader(request)),
					connectedData: (connection) => ({ user: connection.authData.name }),
					onConnect: (connection) => void connections.push(connection)
				})
			]
		});
		const client = await connectRaw(server.url(), BEARER_ALICE);
		const connected = await client.nextMessage('connected');
		expect(connections).toHaveLength(1);
		expect(connected.data).toEqual({ id: connections[0].id, user: 'alice' });
		expect(client.messages[0].name).toBe('connected');
		expect(connections[0].authData).toEqual({ name: 'alice' });
		expect(connections[0].authenticated).toBe(true);
	});

	it('refuses a wrong or missing token with HTTP 401 before the upgrade', async () => {
		const onConnect = vi.fn();
		const authenticate = vi.fn((request: IncomingMessage) => userFor(tokenFromHeader(request)));
		const server = await startSocketServer({
			routes: [{ path: '/ws', authenticate, onConnect }]
		});
		const wrong = await refusedUpgrade(server.url(), { Authorization: 'Bearer mallory-token' });
		expect(wrong).toMatchObject({ status: 401, body: 'Invalid token' });
		const missing = await refusedUpgrade(server.url());
		expect(missing).toMatchObject({ status: 401, body: 'Invalid token' });
		expect(missing.headers.upgrade).toBeUndefined();
		expect(authenticate).toHaveBeenCalledTimes(2);
		expect(onConnect).not.toHaveBeenCalled();
		expect(server.sockets.connections.size).toBe(0);
	});

	it('answers a refusal that carries code 403 with HTTP 403', async () => {
		const onConnect = vi.fn();
		const server = await startSocketServer({
			routes: [
				{
					path: '/ws',
					authenticate: () => ({ success: false, code: 403, reason: 'Account suspended' }),
					onConnect
				}
			]
		});
		const refusal = await refusedUpgrade(server.url(), BEARER_ALICE);
		expect(refusal).toMatchObject({ status: 403, body: 'Account suspended' });
		expect(onConnect).not.toHaveBeenCalled();
	});

	it('answers an authenticate that throws or rejects with HTTP 500 and keeps serving', async () => {
		const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
		const onConnect = vi.fn();
		const server = await startSocketServer({
			routes: [
				defineRoute<User>({
					path: '/ws',
					authenticate: (request) => {
						const token = tokenFromHeader(request);
						if (token == 'throws') throw new Error('session store down');
						if (token == 'rejects') return Promise.reject(new Error('session store timed out'));
						return userFor(token);
					},
					onConnect
				})
			]
		});
		const thrown = await refusedUpgrade(server.url(), { Authorization: 'Bearer throws' });
		expect(thrown).toMatchObject({ status: 500, body: 'Authentication failed' });
		const rejected = await refusedUpgrade(server.url(), { Authorization: 'Bearer rejects' });
		expect(rejected).toMatchObject({ status: 500, body: 'Authentication failed' });
		expect(logged).toHaveBeenCalledWith(
			'[runesocket/server]',
			expect.objectContaining({ message: 'session store down' })
		);
		expect(logged).toHaveBeenCalledWith(
			'[runesocket/server]',
			expect.objectContaining({ message: 'session store timed out' })
		);
		expect(onConnect).not.toHaveBeenCalled();

		const next = await connectRaw(server.url(), BEARER_ALICE);
		await next.nextMessage('connected');
		expect(onConnect).toHaveBeenCalledTimes(1);
	});
});

describe('authentication at upgrade, from a cookie or the query', () => {
	// A session cookie as an Express-style backend sets it after a REST login, among other cookies.
	const SESSIONS = new Map<string, User>([['s:q8Jd2.kLm9', { name: 'alice' }]]);
	const cookieRoute = defineRoute<User>({
		path: '/ws',
		authenticate: (request) => {
			const session = tokenFromCookie(request, 'connect.sid');
			const user = session === undefined ? undefined : SESSIONS.get(session);
			return user ? { success: true, data: user } : { success: false, reason: 'No session' };
		},
		connectedData: (connection) => ({ user: connection.authData.name })
	});
	const queryRoute = defineRoute<User>({
		path: '/ws',
		authenticate: (request) => userFor(tokenFromQuery(request)),
		connectedData: (connection) => ({ user: connection.authData.name })
	});

	it('accepts a valid session cookie (URL-encoded, among other cookies)', async () => {
		const server = await startSocketServer({ routes: [cookieRoute] });
		const client = await connectRaw(server.url(), {
			Cookie: 'theme=dark; connect.sid=s%3Aq8Jd2.kLm9; lang=en'
		});
		const connected = await client.nextMessage('connected');
		expect(connected.data).toMatchObject({ user: 'alice' });
	});

	it('refuses a missing or unknown session cookie with HTTP 401', async () => {
		const server = await startSocketServer({ routes: [cookieRoute] });
		const unknown = await refusedUpgrade(server.url(), {
			Cookie: 'theme=dark; connect.sid=s%3Aforged.sig'
		});
		expect(unknown).toMatchObject({ status: 401, body: 'No session' });
		const missing = await refusedUpgrade(server.url(), { Cookie: 'theme=dark' });
		expect(missing.status).toBe(401);
		const none = await refusedUpgrade(server.url());
		expect(none.status).toBe(401);
		expect(server.sockets.connections.size).toBe(0);
	});

	it('accepts a valid token in the query string', async () => {
		const server = await startSocketServer({ routes: [queryRoute] });
		const client = await connectRaw(server.url('/ws?token=alice-token'));
		const connected = await client.nextMessage('connected');
		expect(connected.data).toMatchObject({ user: 'alice' });
	});

	it('refuses a wrong or missing query token with HTTP 401', async () => {
		const server = await startSocketServer({ routes: [queryRoute] });
		expect(await refusedUpgrade(server.url('/ws?token=mallory-token'))).toMatchObject({
			status: 401,
			body: 'Invalid token'
		});
		expect((await refusedUpgrade(server.url('/ws?token='))).status).toBe(401);
		expect((await refusedUpgrade(server.url('/ws'))).status).toBe(401);
		expect(server.sockets.connections.size).toBe(0);
	});
});

describe('first-message authentication', () => {
	it('accepts {name:"auth", data:{token}}, sends connected, then messages flow', async () => {
		const verify = vi.fn((token: string, _request: IncomingMessage) => userFor(token));
		const server = await startSocketServer({
			routes: [firstMessageRoute({ firstMessageAuth: { verify } })]
		});
		answerEchoes(server);
		const client = await connectRaw(server.url());
		client.send(authFrame('alice-token'));
		const connected = await client.nextMessage('connected');
		const [connection] = server.sockets.connections;
		expect(connected.data).toEqual({ id: connection.id, user: 'alice' });
		expect(verify).toHaveBeenCalledTimes(1);
		expect(verify.mock.calls[0][0]).toBe('alice-token');
		expect(verify.mock.calls[0][1].url).toBe('/ws');

		client.send({ name: 'echo', data: { text: 'hello' }, id: 1 });
		const reply = await client.nextMessage('reply');
		expect(reply).toMatchObject({ id: 1, data: { text: 'hello', from: 'alice' } });
	});

	it('accepts the bare token as the first frame', async () => {
		const server = await startSocketServer({ routes: [firstMessageRoute()] });
		answerEchoes(server);
		const client = await connectRaw(server.url());
		client.send('bob-token');
		const connected = await client.nextMessage('connected');
		expect(connected.data).toMatchObject({ user: 'bob' });
		client.send({ name: 'echo', data: { text: 'hi' }, id: 1 });
		expect(await client.nextMessage('reply')).toMatchObject({ data: { from: 'bob' } });
	});

	it('closes with 4001 on an invalid token, or a first frame that is not one', async () => {
		const onConnect = vi.fn();
		const server = await startSocketServer({ routes: [firstMessageRoute({ onConnect })] });

		const wrong = await connectRaw(server.url());
		wrong.send(authFrame('mallory-token'));
		expect(await wrong.closedWithin()).toEqual({ code: 4001, reason: 'Invalid token' });

		const notAuth = await connectRaw(server.url());
		notAuth.send({ name: 'echo', data: { text: 'let me in' } });
		expect(await notAuth.closedWithin()).toEqual({
			code: 4001,
			reason: 'Expected an auth message first'
		});

		expect(wrong.messages).toEqual([]);
		expect(notAuth.messages).toEqual([]);
		expect(onConnect).not.toHaveBeenCalled();
	});

	it("closes with the refusal's own 4xxx code", async () => {
		const server = await startSocketServer({
			routes: [
				firstMessageRoute({
					firstMessageAuth: {
						verify: (token) =>
							token == 'banned-token'
								? { success: false, code: 4403, reason: 'Account banned' }
								: userFor(token)
					}
				})
			]
		});
		const client = await connectRaw(server.url());
		client.send(authFrame('banned-token'));
		expect(await client.closedWithin()).toEqual({ code: 4403, reason: 'Account banned' });
	});

	it('closes with 4002 when no token arrives within the timeout', async () => {
		const onConnect = vi.fn();
		const server = await startSocketServer({
			routes: [
				firstMessageRoute({ firstMessageAuth: { verify: userFor, timeout: 100 }, onConnect })
			]
		});
		const client = await connectRaw(server.url());
		expect(await client.closedWithin(2_000)).toEqual({
			code: 4002,
			reason: 'Authentication timeout'
		});
		expect(client.messages).toEqual([]);
		expect(onConnect).not.toHaveBeenCalled();
	});

	it('accepts a token that arrived in time even when verify outlasts the timeout', async () => {
		// Only the server's timers are fake: the 4002 deadline and the verify deadline can then be
		// told apart exactly (token deadline at 100, token at 60, verify deadline at 160).
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		try {
			let finishVerify: () => void = () => {};
			let verifyStarted: () => void = () => {};
			const started = new Promise<void>((resolve) => (verifyStarted = resolve));
			const server = await startSocketServer({
				routes: [
					firstMessageRoute({
						firstMessageAuth: {
							timeout: 100,
							verify: (token) => {
								verifyStarted();
								return new Promise((resolve) => (finishVerify = () => resolve(userFor(token))));
							}
						}
					})
				]
			});
			const client = await connectRaw(server.url());
			vi.advanceTimersByTime(60);
			client.send(authFrame('alice-token'));
			await within(started, 'verify to start');
			vi.advanceTimersByTime(60);
			finishVerify();
			expect((await client.nextMessage('connected')).data).toMatchObject({ user: 'alice' });
		} finally {
			vi.useRealTimers();
		}
	});

	it('closes with 1011 when verify never settles', async () => {
		const server = await startSocketServer({
			routes: [
				firstMessageRoute({
					firstMessageAuth: { timeout: 100, verify: () => new Promise(() => {}) }
				})
			]
		});
		const client = await connectRaw(server.url());
		client.send(authFrame('alice-token'));
		expect(await client.closedWithin(2_000)).toEqual({
			code: 1011,
			reason: 'Authentication took too long'
		});
	});

	it('closes the connection past maxPending with 4003, and frees a slot when one authenticates or leaves', async () => {
		const server = await startSocketServer({
			routes: [
				firstMessageRoute({
					firstMessageAuth: { verify: userFor, maxPending: 2, timeout: 10_000 }
				})
			]
		});
		const url = server.url();
		const a = await connectRaw(url, tagged('a'));
		const b = await connectRaw(url, tagged('b'));
		const extra = await connectRaw(url);
		expect(await extra.closedWithin()).toEqual({
			code: 4003,
			reason: 'Too many pending connections'
		});

		// a authenticates: its slot is free, so one more may wait, and no more than that.
		a.send(authFrame('alice-token'));
		await a.nextMessage('connected');
		const c = await connectRaw(url);
		const overflow = await connectRaw(url);
		expect((await overflow.closedWithin()).code).toBe(4003);

		// b leaves without authenticating: its slot is free too.
		const bGone = serverConnection(server.sockets, 'b').closed;
		b.socket.close();
		await within(bGone, 'the server to see b leave');
		const d = await connectRaw(url);
		d.send(authFrame('bob-token'));
		c.send(authFrame('alice-token'));
		expect((await d.nextMessage('connected')).data).toMatchObject({ user: 'bob' });
		expect((await c.nextMessage('connected')).data).toMatchObject({ user: 'alice' });
	});

	it('holds frames sent while an async verify runs, then processes them in order after connected', async () => {
		const verifying = deferred<AuthResult<User>>();
		const verifyCalled = deferred<string>();
		const processed: string[] = [];
		const server = await startSocketServer({
			routes: [
				firstMessageRoute({
					firstMessageAuth: {
						verify: (token) => {
							verifyCalled.resolve(token);
							return verifying.promise;
						}
					},
					onConnect: () => void processed.push('connect'),
					authorizeJoin: (_connection, room) => {
						processed.push(`join ${room}`);
						return true;
					},
					onMessage: (connection, message: IncomingMessageFrame) => {
						processed.push(`${message.name} ${JSON.stringify(message.data)}`);
						connection.send({ name: 'ack', data: message.data });
					}
				})
			]
		});
		const client = await connectRaw(server.url());
		client.send(authFrame('alice-token'));
		client.send({ name: 'note', data: 1 });
		client.send({ name: 'room.join', data: { room: 'r1' }, id: 1 });
		client.send({ name: 'note', data: 2 });
		client.send({ name: 'room.join', data: { room: 'r2' }, id: 2 });
		client.send({ name: 'note', data: 3 });
		expect(await within(verifyCalled.promise, 'verify to be called')).toBe('alice-token');
		// Every frame above has reached the server once the pong for this ping is back.
		await client.roundTrip();
		expect(processed).toEqual([]);
		expect(client.messages).toEqual([]);

		verifying.resolve({ success: true, data: { name: 'alice' } });
		const messages = await client.waitForMessages(6);
		// Messages are handled in order, and so are room requests; a join's decision may be awaited
		// (authorizeJoin can be async), so the two lines need not interleave exactly as sent.
		expect(processed[0]).toBe('connect');
		expect(processed.filter((step) => step.startsWith('note'))).toEqual([
			'note 1',
			'note 2',
			'note 3'
		]);
		expect(processed.filter((step) => step.startsWith('join'))).toEqual(['join r1', 'join r2']);
		expect(messages[0]).toMatchObject({ name: 'connected', data: { user: 'alice' } });
		expect(messages.filter((message) => message.name == 'ack').map(({ data }) => data)).toEqual([
			1, 2, 3
		]);
		expect(
			messages
				.filter((message) => message.name == 'room.joined')
				.map(({ data, id }) => [(data as { room: string }).room, id])
		).toEqual([
			['r1', 1],
			['r2', 2]
		]);
		const [connection] = server.sockets.connections;
		expect([...connection.joinedRooms]).toEqual(['r1', 'r2']);
	});

	it('closes with 1011 when verify throws or rejects, and keeps serving', async () => {
		const onError = vi.fn<(connection: Connection<unknown>, error: Error) => void>();
		const server = await startSocketServer({
			routes: [
				firstMessageRoute({
					firstMessageAuth: {
						verify: (token) => {
							if (token == 'throws') throw new Error('token service down');
							if (token == 'rejects') return Promise.reject(new Error('token service timed out'));
							return userFor(token);
						}
					},
					onError
				})
			]
		});
		const thrown = await connectRaw(server.url());
		thrown.send(authFrame('throws'));
		expect(await thrown.closedWithin()).toEqual({ code: 1011, reason: 'Authentication failed' });
		const rejected = await connectRaw(server.url());
		rejected.send(authFrame('rejects'));
		expect(await rejected.closedWithin()).toEqual({ code: 1011, reason: 'Authentication failed' });
		expect(onError.mock.calls.map(([, error]) => error.message)).toEqual([
			'token service down',
			'token service timed out'
		]);

		const next = await connectRaw(server.url());
		next.send(authFrame('alice-token'));
		expect((await next.nextMessage('connected')).data).toMatchObject({ user: 'alice' });
	});
});

describe('SocketClient against a first-message route', () => {
	it('connects with the token from its auth getter, and messages flow', async () => {
		const server = await startSocketServer({ routes: [firstMessageRoute()] });
		answerEchoes(server);
		const client = makeClient(server.url(), { auth: () => 'alice-token' });
		const connected = nextServerMessage(client, 'connected');
		client.connect();
		expect((await connected).data).toMatchObject({ user: 'alice' });
		const reply = await client.request<{ text: string; from: string }, { text: string }>(Echo, {
			text: 'ping'
		});
		expect(reply).toEqual({ text: 'ping', from: 'alice' });
	});

	it('asks the getter again with expired: true after a 4001, and the fresh token is accepted', async () => {
		const verified: string[] = [];
		const server = await startSocketServer({
			routes: [
				firstMessageRoute({
					firstMessageAuth: {
						verify: (token) => {
							verified.push(token);
							return token == 'fresh-token'
								? { success: true, data: { name: 'alice' } }
								: { success: false, reason: 'Token expired' };
						}
					}
				})
			]
		});
		const asked: AuthContext[] = [];
		const client = makeClient(server.url(), {
			auth: (context) => {
				asked.push(context);
				return context.expired ? 'fresh-token' : 'stale-token';
			}
		});
		const disconnected = nextEvent(client, Disconnected);
		const connected = nextServerMessage(client, 'connected');
		client.connect();
		expect(await disconnected).toEqual({
			code: 4001,
			reason: 'Token expired',
			willReconnect: true
		});
		expect((await connected).data).toMatchObject({ user: 'alice' });
		expect(asked.map(({ expired }) => expired)).toEqual([false, true]);
		expect(verified).toEqual(['stale-token', 'fresh-token']);
		expect(client.isConnected).toBe(true);
	});
});
