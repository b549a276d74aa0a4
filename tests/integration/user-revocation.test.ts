import { describe, expect, it } from 'vitest';
import {
	MemoryEngine,
	type Engine,
	type RouteOptions,
	type SocketServer
} from '../../src/lib/server/index.js';
import { StubEngine } from '../kit/engine-stub.js';
import type { EngineUserSlots } from '../../src/lib/engine/engine.js';
import { deferred, type Deferred } from '../kit/peers/ws-peer.js';
import { connectRaw } from '../kit/peers/ws-peer.js';
import { Echo } from '../kit/auth-users.js';
import { startSocketServer, type RunningServer } from '../kit/servers/socket-server.js';
import { tokenUserAuth, type TokenUser } from '../kit/token-users.js';
import { stillOpen, userTab } from '../kit/user-tabs.js';
import { until, within } from '../kit/wait.js';

// disconnectUser, reauthorizeUser and maxConnectionsPerUser in one process (MemoryEngine, and an
// app's engine without `command` or `userSlots`); tests/integration/redis/user-revocation.test.ts
// does the same across processes on Redis.

/** A route of `id:name` tokens (first-message auth). */
function route(path: string, extra: Partial<RouteOptions<TokenUser>> = {}): RouteOptions {
	return { path, origins: 'any', firstMessageAuth: tokenUserAuth, ...extra } as RouteOptions;
}

async function server(routes: RouteOptions[], engine: Engine = new MemoryEngine()) {
	return startSocketServer({ engine, routes });
}

/** A tab of user `token` (`id:name`) on `path`, greeted (`connected`) unless `greeted` is false. */
function tab(running: RunningServer, token: string, path = '/ws', greeted = true) {
	return userTab(running.url(path), token, greeted);
}

function userConnections(sockets: SocketServer, userId: string) {
	return [...sockets.connections].filter((connection) => connection.userId === userId);
}

describe('disconnectUser and reauthorizeUser in one process', () => {
	it('closes every connection of the user on every route with 4004, and no one else’s', async () => {
		const closes: number[] = [];
		const onClose = (_connection: unknown, code: number) => void closes.push(code);
		const running = await server([route('/ws', { onClose }), route('/other')]);
		const ada = [await tab(running, 'ada:Ada'), await tab(running, 'ada:Ada', '/other')];
		const bob = await tab(running, 'bob:Bob');

		await running.sockets.disconnectUser('ada');
		for (const peer of ada) {
			expect(await peer.closedWithin()).toEqual({ code: 4004, reason: 'Session revoked' });
		}
		await stillOpen(bob);
		expect(closes).toEqual([4004]);
		expect(running.sockets.metricsSnapshot().userConnectionsRevoked).toBe(2);
		expect(running.sockets.metrics()).toContain('runesocket_user_connections_revoked_total 2');
	});

	it('closes with the code and reason given; refuses a bad user id or code with a TypeError', async () => {
		const running = await server([route('/ws')]);
		const ada = await tab(running, 'ada:Ada');
		const { sockets } = running;
		await expect(sockets.disconnectUser(42 as unknown as string)).rejects.toThrow(
			/disconnectUser: userId must be a string, not number/
		);
		await expect(sockets.disconnectUser('ada', { code: 1006 })).rejects.toThrow(TypeError);
		await expect(sockets.disconnectUser('ada', { code: 4000.5 })).rejects.toThrow(/code must be/);
		await expect(sockets.disconnectUser('ada', { reason: 7 as unknown as string })).rejects.toThrow(
			/reason must be a string/
		);
		await expect(sockets.reauthorizeUser(undefined as unknown as string)).rejects.toThrow(
			/reauthorizeUser: userId must be a string/
		);
		await stillOpen(ada);

		await sockets.disconnectUser('ada', { code: 4000, reason: 'Account moved' });
		expect(await ada.closedWithin()).toEqual({ code: 4000, reason: 'Account moved' });
	});

	it('re-checks every room of the user’s connections: a refused room is left with a forbidden error', async () => {
		const banned = new Set<string>();
		const authorizeJoin = (connection: { userId?: string }, room: string) =>
			!banned.has(`${connection.userId}/${room}`);
		const running = await server([route('/ws', { authorizeJoin })]);
		const ada = await tab(running, 'ada:Ada');
		const bob = await tab(running, 'bob:Bob');
		for (const [peer, room] of [
			[ada, 'a'],
			[ada, 'b'],
			[bob, 'b']
		] as const) {
			peer.send({ name: 'room.join', data: { room }, id: 1 });
			await peer.nextMessage('room.joined', 5_000, peer.messages.length);
		}
		banned.add('ada/b').add('bob/b');

		await running.sockets.reauthorizeUser('ada');
		const error = await ada.nextMessage('error');
		expect(error.data).toEqual({
			code: 'forbidden',
			message: 'No longer allowed in "b"',
			room: 'b'
		});
		expect(error.id).toBeUndefined();
		const [connection] = userConnections(running.sockets, 'ada');
		expect([...connection.rooms]).toEqual(['a']);
		await stillOpen(ada);
		// Bob was not re-checked.
		expect([...userConnections(running.sockets, 'bob')[0].rooms]).toEqual(['b']);
	});

	it('reaches this process only with an engine that has no `command`', async () => {
		const running = await server([route('/ws')], new StubEngine());
		const ada = await tab(running, 'ada:Ada');
		await running.sockets.disconnectUser('ada');
		expect((await ada.closedWithin()).code).toBe(4004);
	});
});

describe('maxConnectionsPerUser in one process', () => {
	it.each([
		['MemoryEngine', () => new MemoryEngine()],
		['an engine without userSlots', () => new StubEngine()]
	])('closes the connection past the limit with 4005, before connected (%s)', async (_, engine) => {
		const connects: string[] = [];
		const running = await server(
			[
				route('/ws', {
					maxConnectionsPerUser: 2,
					onConnect: (connection) => void connects.push(connection.userId!)
				}),
				route('/other', { maxConnectionsPerUser: 1 })
			],
			engine()
		);
		const ada = [await tab(running, 'ada:Ada'), await tab(running, 'ada:Ada')];
		const third = await tab(running, 'ada:Ada', '/ws', false);
		expect(await third.closedWithin()).toEqual({
			code: 4005,
			reason: 'Too many connections for this user'
		});
		expect(third.messages.map((message) => message.name)).not.toContain('connected');
		for (const peer of ada) await stillOpen(peer);
		// Another user, and the same user on another route, have slots of their own.
		await tab(running, 'bob:Bob');
		await tab(running, 'ada:Ada', '/other');
		expect(connects).toEqual(['ada', 'ada', 'bob']);

		ada[0].socket.close(1000);
		await ada[0].closed;
		await within(
			(async () => {
				while (userConnections(running.sockets, 'ada').length > 2)
					await new Promise((r) => setImmediate(r));
			})(),
			'the closed tab to be gone'
		);
		await tab(running, 'ada:Ada');
		const snapshot = running.sockets.metricsSnapshot();
		expect(snapshot.userConnectionsRefused).toEqual({ '/ws': 1 });
		expect(snapshot.connectionsClosed['4005']).toBe(1);
		expect(running.sockets.metrics()).toContain(
			'runesocket_user_connections_refused_total{route="/ws"} 1'
		);
	});

	it('does not count connections without a user', async () => {
		const running = await server([
			route('/ws', { maxConnectionsPerUser: 1, userId: () => undefined })
		]);
		await tab(running, 'ada:Ada');
		await tab(running, 'ada:Ada');
	});

	it('closes with 4005 after the upgrade on an authenticate route, so a browser sees the code', async () => {
		const running = await server([
			{
				path: '/ws',
				origins: 'any',
				maxConnectionsPerUser: 1,
				authenticate: () => ({ success: true, data: { id: 'ada' } })
			}
		]);
		const first = await connectRaw(running.url());
		await first.nextMessage('connected');
		const second = await connectRaw(running.url());
		expect((await second.closedWithin()).code).toBe(4005);
		await stillOpen(first);
	});
});

/** An app's engine whose slot claims the test answers itself, one by one. */
class ClaimsAnsweredByTest extends StubEngine {
	readonly claims: { connectionId: string; answer: Deferred<boolean> }[] = [];
	readonly released: string[] = [];
	readonly userSlots: EngineUserSlots = {
		claim: (_key, connectionId) => {
			const answer = deferred<boolean>();
			this.claims.push({ connectionId, answer });
			return answer.promise;
		},
		release: (_key, connectionId) => void this.released.push(connectionId)
	};

	/** The next claim, once it was asked. */
	async claim(index: number) {
		await within(
			(async () => {
				while (this.claims.length <= index) await new Promise((r) => setImmediate(r));
			})(),
			`claim #${index}`
		);
		return this.claims[index];
	}
}

describe('maxConnectionsPerUser with an engine that answers claims later', () => {
	async function limited(extra: Partial<RouteOptions<TokenUser>> = {}) {
		const engine = new ClaimsAnsweredByTest();
		const errors: Error[] = [];
		const onError = (_connection: unknown, error: Error) => void errors.push(error);
		const running = await server(
			[route('/ws', { maxConnectionsPerUser: 1, onError, ...extra })],
			engine
		);
		running.sockets.on(Echo, (_connection, data, reply) => reply(data));
		return { engine, running, errors };
	}

	it('holds the frames sent meanwhile and dispatches them after connected, in order', async () => {
		const { engine, running } = await limited();
		const peer = await tab(running, 'ada:Ada', '/ws', false);
		for (const text of ['one', 'two']) peer.send({ name: 'echo', data: { text }, id: text.length });
		const claim = await engine.claim(0);
		await peer.roundTrip();
		expect(peer.messages.map((message) => message.name)).not.toContain('connected');
		claim.answer.resolve(true);
		await peer.waitForMessages(3);
		expect(peer.messages.map((message) => [message.name, message.data])).toEqual([
			['connected', { id: expect.any(String) }],
			['reply', { text: 'one' }],
			['reply', { text: 'two' }]
		]);
	});

	it('answers a first-frame auth sent as a request after connected, once the slot is claimed', async () => {
		const { engine, running } = await limited();
		const peer = await connectRaw(running.url('/ws'));
		peer.send({ name: 'auth', data: { token: 'ada:Ada' }, id: 7 });
		const claim = await engine.claim(0);
		await peer.roundTrip();
		expect(peer.messages).toEqual([]);
		claim.answer.resolve(true);
		await peer.waitForMessages(2);
		expect(peer.messages.map((message) => [message.name, message.id])).toEqual([
			['connected', undefined],
			['reply', 7]
		]);
	});

	it('starts an expiring token’s clock once connected: no auth.refresh while the slot is claimed', async () => {
		const lifetime = 400;
		const { engine, running } = await limited({
			firstMessageAuth: {
				verify: () => ({
					success: true,
					data: { id: 'ada', name: 'Ada' },
					expiresAt: Date.now() + lifetime
				})
			}
		});
		const peer = await connectRaw(running.url('/ws'));
		peer.send({ name: 'auth', data: { token: 'ada' } });
		const claim = await engine.claim(0);
		// Past the moment the server asks for a fresh token (half the lifetime): nothing may come
		// before `connected`.
		await expect(peer.waitForMessages(1, lifetime)).rejects.toThrow();
		claim.answer.resolve(true);
		await peer.waitForMessages(1);
		expect(peer.messages[0]?.name).toBe('connected');
	});

	it('closes with 1008 a tab that sends too much while its slot is claimed', async () => {
		// Without a rate limit: its burst (100 frames) would refuse the flood before it is held.
		const { engine, running } = await limited({ rateLimit: false });
		const few = await tab(running, 'ada:Ada', '/ws', false);
		const many = await tab(running, 'bob:Bob', '/ws', false);
		await engine.claim(1);
		for (let index = 0; index < 3; index++) few.send({ name: 'echo', data: { text: 'x' } });
		for (let index = 0; index <= 100; index++) many.send({ name: 'echo', data: { text: 'x' } });
		expect(await many.closedWithin()).toEqual({
			code: 1008,
			reason: 'Too many messages before authentication'
		});
		await stillOpen(few);
	});

	it('admits the connection when the claim fails (reported), and gives the slot back at its close', async () => {
		const { engine, running, errors } = await limited();
		const peer = await tab(running, 'ada:Ada', '/ws', false);
		const claim = await engine.claim(0);
		claim.answer.reject(new Error('the slots store is down'));
		await peer.nextMessage('connected');
		expect(errors.map((error) => error.message)).toEqual(['the slots store is down']);
		peer.socket.close(1000);
		await peer.closed;
		await until(() => engine.released.length == 1, 'the slot to be given back');
		expect(engine.released).toEqual([claim.connectionId]);
	});

	it('gives back a slot taken after its tab closed, and revokes a tab waiting on its claim', async () => {
		const { engine, running } = await limited();
		const gone = await tab(running, 'ada:Ada', '/ws', false);
		const first = await engine.claim(0);
		gone.socket.terminate();
		await gone.closed;
		await until(() => running.sockets.connections.size == 0, 'the server to see the tab gone');
		first.answer.resolve(true);
		await until(() => engine.released.length == 1, 'the late slot to be given back');
		expect(engine.released).toEqual([first.connectionId]);

		const waiting = await tab(running, 'ada:Ada', '/ws', false);
		await engine.claim(1);
		await running.sockets.disconnectUser('ada');
		expect((await waiting.closedWithin()).code).toBe(4004);
		expect(waiting.messages.map((message) => message.name)).not.toContain('connected');
	});
});
