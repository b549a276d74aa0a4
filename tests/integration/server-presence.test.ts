import { describe, expect, it, vi } from 'vitest';
import {
	ClientMessage,
	ErrorCode,
	watchPresence,
	type PresenceMembers
} from '../../src/lib/index.js';
import {
	MemoryEngine,
	type RouteOptions,
	type SocketServerOptions
} from '../../src/lib/server/index.js';
import type { EnginePresence } from '../../src/lib/engine/engine.js';
import { makeClient } from '../kit/clients.js';
import { StubEngine } from '../kit/engine-stub.js';
import { connectRaw, type WsPeer } from '../kit/peers/ws-peer.js';
import type { Envelope } from '../kit/envelope.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { presentAs, tokenUserAuth, type TokenUser } from '../kit/token-users.js';
import { reachState, within } from '../kit/wait.js';

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

async function serve(
	options: Partial<SocketServerOptions> = {},
	route: Partial<RouteOptions<TokenUser>> = {}
) {
	const routes = [{ ...presenceRoute, ...route } as RouteOptions];
	return startSocketServer({ routes, ...options });
}

/** A raw client signed in with `token`, sending and reading frames as they are. */
async function rawUser(url: string, token: string): Promise<WsPeer> {
	const raw = await connectRaw(url);
	raw.send({ name: 'auth', data: { token } });
	await raw.nextMessage('connected');
	return raw;
}

/** A raw client of `token` in `room`, its first `presence.state` received. */
async function rawMember(url: string, token: string, room = ROOM): Promise<WsPeer> {
	const raw = await rawUser(url, token);
	raw.send({ name: 'room.join', data: { room } });
	await raw.nextMessage('presence.state');
	return raw;
}

/** The answer (`reply` or `error`) to the request `id`, as sent (the frame) and decoded. */
async function answerTo(raw: WsPeer, id: number): Promise<{ frame: string; answer: Envelope }> {
	for (;;) {
		const frame = raw.frames.find((text) => text.startsWith('{') && JSON.parse(text).id === id);
		if (frame) return { frame, answer: JSON.parse(frame) as Envelope };
		await raw.waitForMessages(raw.messages.length + 1);
	}
}

/** The frames `raw` received named `name`, from the `from`-th frame on. */
const framesNamed = (raw: WsPeer, name: string, from = 0) =>
	raw.messages.slice(from).filter((message) => message.name == name);

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
			members: [['ada', { data: { name: 'Ada' }, connections: 1 }]]
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

	it('shows a user whose id is __proto__ to everyone, in the state, in changes and to presence.get', async () => {
		const server = await serve();
		const ada = await viewer(server.url(), 'ada:Ada');
		await ada.next((members) => members.has('ada'), 'Ada to see herself');
		const proto = await viewer(server.url(), '__proto__:Proto');
		const both = (members: PresenceMembers<{ name: string }>) =>
			members.get('__proto__')?.data.name == 'Proto' && members.has('ada');
		await ada.next(both, 'Proto in a change');
		await proto.next(both, 'Proto in its own state');

		const raw = await rawMember(server.url(), 'bob:Bob');
		raw.send({ name: 'presence.get', data: { room: ROOM }, id: 1 });
		const { answer } = await answerTo(raw, 1);
		const { members } = answer.data as { members: [string, unknown][] };
		expect(members.map(([id]) => id).sort()).toEqual(['__proto__', 'ada', 'bob']);
		proto.client.disconnect();
		await ada.next((members) => !members.has('__proto__'), 'Proto gone');
	});

	it('keeps each route’s presence apart: a room of the same name on another route shows nobody of this one', async () => {
		const other: RouteOptions<TokenUser> = { ...presenceRoute, path: '/other' };
		const server = await startSocketServer({
			routes: [presenceRoute as RouteOptions, other as RouteOptions]
		});
		const ada = await viewer(server.url(), 'ada:Ada');
		const bob = await viewer(server.url('/other'), 'bob:Bob');
		await ada.next((members) => members.has('ada'), 'Ada to see herself');
		await bob.next((members) => members.has('bob'), 'Bob to see himself');
		const cy = await viewer(server.url(), 'cy:Cy');
		await ada.next((members) => members.has('cy'), 'Cy, on Ada’s route');
		await cy.next((members) => members.has('ada'), 'Ada, on Cy’s route');

		// Asked after Cy's change went out: an answer comes after any diff sent before it.
		const state = await bob.client.request(PresenceGet, { room: ROOM });
		expect(state).toEqual({
			room: ROOM,
			members: [['bob', { data: { name: 'Bob' }, connections: 1 }]]
		});
		expect(bob.views.every((members) => members.size == 1)).toBe(true);
		expect(summary(cy.watch.members)).toEqual({ ada: 'Ada×1', cy: 'Cy×1' });
	});

	it('holds every request to one cap on room names, and echoes no long name back', async () => {
		const server = await serve();
		const raw = await rawMember(server.url(), 'ada:Ada');
		const long = 'x'.repeat(60_000);
		const requests = ['room.join', 'room.leave', 'presence.get'];
		requests.forEach((name, index) => raw.send({ name, data: { room: long }, id: index + 1 }));
		for (const [index, name] of requests.entries()) {
			const { frame, answer } = await answerTo(raw, index + 1);
			expect(answer.data).toMatchObject({ code: ErrorCode.Malformed });
			expect((answer.data as { message: string }).message).toContain(`${name} needs`);
			expect(frame.length).toBeLessThan(300);
		}
		// A name within the cap is echoed (bounded) when refused.
		const unjoined = `team:${'y'.repeat(251)}`;
		raw.send({ name: 'presence.get', data: { room: unjoined }, id: 4 });
		const { answer } = await answerTo(raw, 4);
		expect(answer.data).toMatchObject({ code: ErrorCode.Forbidden, room: unjoined });
	});

	it('merges a room’s changes: one member’s join/leave churn reaches an observer as a few diffs', async () => {
		const server = await serve({}, { rateLimit: false });
		const observer = await rawMember(server.url(), 'obs:Obs');
		const churner = await rawUser(server.url(), 'bob:Bob');
		const from = observer.messages.length;
		const join = { name: 'room.join', data: { room: ROOM } };
		const leave = { name: 'room.leave', data: { room: ROOM } };
		for (let pair = 0; pair < 109; pair++) {
			churner.send(join);
			churner.send(leave);
		}
		churner.send(join);
		churner.send({ ...leave, id: 1 });
		await answerTo(churner, 1);
		// Cy's join is a change after every one of the churn: once it arrived, so did they.
		await rawMember(server.url(), 'cy:Cy');
		const diffs = () => framesNamed(observer, 'presence.diff', from);
		await within(
			(async () => {
				while (
					!diffs().some((diff) =>
						(diff.data as { set: [string, unknown][] }).set.some(([id]) => id == 'cy')
					)
				) {
					await observer.waitForMessages(observer.messages.length + 1);
				}
			})(),
			'Cy in a diff'
		);
		const seen = new Map<string, unknown>([['obs', 1]]);
		for (const { data } of diffs()) {
			const { set, removed } = data as { set: [string, unknown][]; removed: string[] };
			for (const id of removed) seen.delete(id);
			for (const [id, entry] of set) seen.set(id, entry);
		}
		expect([...seen.keys()].sort()).toEqual(['cy', 'obs']);
		// 220 frames of churn, handled within well under a second: a diff per 100 ms at most.
		expect(diffs().length).toBeLessThanOrEqual(10);
	});

	it('answers a join and a presence.get whose connection left before the engine answered', async () => {
		// The engine answers reads only when told: the leave is handled while both reads are out.
		let answer: () => void = () => {};
		const answered = new Promise<void>((resolve) => (answer = resolve));
		const engine = new MemoryEngine();
		const history = engine.history.bind(engine);
		const members = engine.presence.members.bind(engine.presence);
		engine.history = async (room, since) => {
			await answered;
			return history(room, since);
		};
		// Any engine may answer later: MemoryPresence answers at once, so this one is made to wait.
		const presence: EnginePresence = engine.presence;
		presence.members = async (room) => {
			await answered;
			return members(room);
		};
		const server = await serve({ engine });
		const raw = await rawUser(server.url(), 'ada:Ada');
		raw.send({ name: 'room.join', data: { room: 'lobby' }, id: 1 });
		raw.send({ name: 'room.join', data: { room: ROOM } });
		raw.send({ name: 'presence.get', data: { room: ROOM }, id: 2 });
		raw.send({ name: 'room.leave', data: { room: 'lobby' } });
		raw.send({ name: 'room.leave', data: { room: ROOM } });
		// Answered in order: once the leave's answer came, the server handled every frame before it.
		raw.send({ name: 'probe', data: null, id: 3 });
		await answerTo(raw, 3);
		answer();
		const answers = await Promise.all([answerTo(raw, 1), answerTo(raw, 2)]);
		for (const [index, room] of ['lobby', ROOM].entries()) {
			expect(answers[index].answer).toMatchObject({
				name: 'error',
				data: { code: ErrorCode.Forbidden, room }
			});
		}
	});

	it('refuses a route with presence on an engine that keeps none', async () => {
		const withoutPresence = new StubEngine();
		await expect(serve({ engine: withoutPresence })).rejects.toThrow(/does not keep presence/);
	});
});
