import { describe, expect, it, vi } from 'vitest';
import {
	ClientMessage,
	ErrorCode,
	watchPresence,
	type PresenceMembers
} from '../../src/lib/index.js';
import {
	MemoryEngine,
	type Engine,
	type RouteOptions,
	type SocketServerOptions
} from '../../src/lib/server/index.js';
import { makeClient } from '../helpers/clients.js';
import { startSocketServer } from '../helpers/socket-server.js';
import { presentAs, tokenUserAuth, type TokenUser } from '../helpers/token-users.js';
import { reachState, within } from '../helpers/wait.js';

const ROOM = 'team:acme';
const PresenceGet = ClientMessage.define<{ room: string }>('presence.get');

/** Tokens are `user-id:name`; presence shows the name. */
const presenceRoute: RouteOptions<TokenUser> = {
	path: '/ws',
	origins: 'any',
	firstMessageAuth: tokenUserAuth,
	presence: {
		member: presentAs,
		rooms: (room) => room.startsWith('team:')
	},
	authorizeJoin: (_connection, room) => room != 'team:secret'
};

async function serve(options: Partial<SocketServerOptions> = {}) {
	return startSocketServer({ routes: [presenceRoute as RouteOptions], ...options });
}

/** A connected client with `token`, watching `room`'s presence; `next(predicate)` waits for a view. */
async function viewer(url: string, token: string, room = ROOM) {
	const client = makeClient(url, { auth: () => token, reconnectDelay: 10, maxReconnectDelay: 20 });
	const views: PresenceMembers<{ name: string }>[] = [];
	let wake = () => {};
	const watch = watchPresence<{ name: string }>(client, room, (members) => {
		views.push(members);
		wake();
	});
	client.connect();
	await reachState(client, 'connected');
	const next = (predicate: (members: PresenceMembers<{ name: string }>) => boolean, what: string) =>
		within(
			(async () => {
				while (!predicate(watch.members)) await new Promise<void>((done) => (wake = done));
				return watch.members;
			})(),
			what
		);
	return { client, watch, views, next };
}

const summary = (members: PresenceMembers<{ name: string }>) =>
	Object.fromEntries(
		[...members].map(([id, entry]) => [id, `${entry.data.name}×${entry.connections}`])
	);

describe('presence on the server', () => {
	it('merges a user’s tabs, tells every member each change, and drops a user with their last tab', async () => {
		const server = await serve();
		const ada = await viewer(server.url(), 'ada:Ada');
		await ada.next((members) => members.has('ada'), 'Ada to see herself');
		const adaAgain = await viewer(server.url(), 'ada:Ada');
		const bob = await viewer(server.url(), 'bob:Bob');

		const everyone = { ada: 'Ada×2', bob: 'Bob×1' };
		for (const watcher of [ada, adaAgain, bob]) {
			await watcher.next(
				(members) => members.size == 2 && members.get('ada')?.connections == 2,
				'both users'
			);
			expect(summary(watcher.watch.members)).toEqual(everyone);
		}

		adaAgain.client.disconnect();
		await bob.next((members) => members.get('ada')?.connections == 1, 'one Ada tab fewer');
		ada.client.disconnect();
		await bob.next((members) => !members.has('ada'), 'Ada gone');
		expect(summary(bob.watch.members)).toEqual({ bob: 'Bob×1' });
	});

	it('gives a reconnecting client the current set, not a replay of what changed meanwhile', async () => {
		const server = await serve();
		const ada = await viewer(server.url(), 'ada:Ada');
		await ada.next((members) => members.has('ada'), 'Ada to see herself');
		const dropped = ada.client.connectionState;
		expect(dropped).toBe('connected');
		for (const connection of server.sockets.connections) connection.close(1012, 'restart');
		const bob = await viewer(server.url(), 'bob:Bob');
		await bob.next((members) => members.has('bob'), 'Bob to see himself');
		await reachState(ada.client, 'connected');
		await ada.next((members) => members.has('bob') && members.has('ada'), 'the current set');
		expect(summary(ada.watch.members)).toEqual({ ada: 'Ada×1', bob: 'Bob×1' });
	});

	it('shows presence only to members: a refused join sees nothing, and presence.get is refused', async () => {
		const server = await serve();
		const insider = await viewer(server.url(), 'ada:Ada', 'team:secret');
		const refused = await within(
			new Promise<unknown>((resolve) => insider.client.onError((error) => resolve(error.detail))),
			'the refusal'
		);
		expect(refused).toMatchObject({ code: ErrorCode.Forbidden, room: 'team:secret' });
		await expect(
			insider.client.request(PresenceGet, { room: 'team:secret' })
		).rejects.toMatchObject({ detail: { code: ErrorCode.Forbidden } });
		expect(insider.views).toEqual([]);
	});

	it('keeps no presence in rooms the route leaves out, and answers presence.get with the set', async () => {
		const server = await serve();
		const ada = await viewer(server.url(), 'ada:Ada');
		await ada.next((members) => members.has('ada'), 'Ada to see herself');
		const lobby = await viewer(server.url(), 'bob:Bob', 'lobby');
		await expect(lobby.client.request(PresenceGet, { room: 'lobby' })).rejects.toMatchObject({
			detail: { code: ErrorCode.Forbidden }
		});
		const state = await ada.client.request(PresenceGet, { room: ROOM });
		expect(state).toEqual({
			room: ROOM,
			members: { ada: { data: { name: 'Ada' }, connections: 1 } }
		});
		expect(lobby.views).toEqual([]);
	});

	it('contains a member callback that throws: the join goes on without presence, and is reported', async () => {
		const onError = vi.fn();
		const server = await startSocketServer({
			routes: [
				{
					...(presenceRoute as RouteOptions),
					presence: {
						member: () => {
							throw new Error('no profile');
						}
					},
					onError
				}
			]
		});
		const ada = await viewer(server.url(), 'ada:Ada');
		await within(
			new Promise<void>((resolve) => onError.mockImplementation(() => resolve())),
			'the error report'
		);
		expect(onError.mock.calls[0][1]).toMatchObject({ message: 'no profile' });
		expect(ada.client.joinedRooms).toContain(ROOM);
		expect(ada.views).toEqual([]);
	});

	it('refuses a route with presence on an engine that keeps none', async () => {
		const engine = new MemoryEngine() as Engine;
		const withoutPresence: Engine = {
			start: (handlers) => engine.start(handlers),
			subscribe: (room) => engine.subscribe(room),
			unsubscribe: (room) => engine.unsubscribe(room),
			publish: (room, message, options) => engine.publish(room, message, options),
			history: (room, since) => engine.history(room, since),
			close: () => engine.close()
		};
		await expect(serve({ engine: withoutPresence })).rejects.toThrow(/does not keep presence/);
	});
});
