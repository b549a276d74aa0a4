import { describe, expect, it } from 'vitest';
import {
	MemoryEngine,
	type Engine,
	type RouteOptions,
	type SocketServer
} from '../../src/lib/server/index.js';
import { StubEngine } from '../kit/engine-stub.js';
import { connectRaw } from '../kit/peers/ws-peer.js';
import { startSocketServer, type RunningServer } from '../kit/servers/socket-server.js';
import { tokenUserAuth, type TokenUser } from '../kit/token-users.js';
import { stillOpen, userTab } from '../kit/user-tabs.js';
import { within } from '../kit/wait.js';

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
