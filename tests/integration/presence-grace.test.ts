import { describe, expect, it } from 'vitest';
import { watchPresence } from '../../src/lib/index.js';
import { presenceRoomOf } from '../../src/lib/engine/presence-scope.js';
import {
	MemoryEngine,
	type Connection,
	type RouteOptions,
	type SocketServerOptions
} from '../../src/lib/server/index.js';
import { makeClient } from '../kit/clients.js';
import { serverConnection, tagged, type WsPeer } from '../kit/peers/ws-peer.js';
import {
	diffsOf,
	lastCount,
	presentMember,
	sawLeave,
	type PresenceDiff
} from '../kit/presence-diffs.js';
import { startSocketServer, type RunningServer } from '../kit/servers/socket-server.js';
import { presentAs, tokenUserAuth, type TokenUser } from '../kit/token-users.js';
import { reachState, until, within } from '../kit/wait.js';

// Presence grace on one process (MemoryEngine): a connection that drops stays listed for the
// route's `presence.grace`; a leave the client asked for is announced at once.
// tests/integration/redis/presence-grace.test.ts does the same across processes on Redis.

const ROOM = 'team:acme';
/** Long enough that "at once" (well under a second) cannot be the grace ending. */
const LONG_GRACE = 60_000;
/** Short enough for a test to wait it out, long enough for a reconnect on a busy machine. */
const SHORT_GRACE = 400;

async function serve(grace: number | undefined, options: Partial<SocketServerOptions> = {}) {
	const route: RouteOptions<TokenUser> = {
		path: '/ws',
		origins: 'any',
		firstMessageAuth: tokenUserAuth,
		presence: { member: presentAs, grace }
	};
	return startSocketServer({ routes: [route as RouteOptions], ...options });
}

/** A raw client of `token` (`id:name`, tagged with it) in ROOM, its `presence.state` received. */
const member = (server: RunningServer, token: string) =>
	presentMember(server.url(), token, ROOM, tagged(token));

/** Waits until a diff (from the `from`-th on) satisfies `check`. */
async function diffUntil(
	raw: WsPeer,
	check: (from: number) => boolean,
	from: number,
	what: string,
	ms = 5_000
): Promise<void> {
	await within(
		(async () => {
			while (!check(from)) await raw.waitForMessages(raw.messages.length + 1, ms);
		})(),
		what,
		ms
	);
}

/** The server's connection of the raw client tagged `token`. */
const connectionOf = (server: RunningServer, token: string): Connection<unknown> =>
	serverConnection(server.sockets, token);

/** Waits until the server no longer has the connection tagged `token` (its close was handled). */
const goneFromServer = (server: RunningServer, token: string) =>
	until(
		() =>
			![...server.sockets.connections].some((each) => each.req.headers['x-test-client'] == token),
		`the server to see ${token} close`
	);

describe('presence grace', () => {
	it('keeps a dropped user listed while they reconnect: no member sees them leave', async () => {
		const server = await serve(SHORT_GRACE);
		const observer = await member(server, 'obs:Obs');
		await member(server, 'ada:Ada').then((ada) => ada.socket.terminate());
		await goneFromServer(server, 'ada:Ada');
		// Cy's join reaches Obs in the diff that would say Ada left, or a later one (diffs are merged
		// for 100 ms: a reconnect faster than that would hide a leave even without a grace).
		const cy = await member(server, 'cy:Cy');
		await diffUntil(observer, () => lastCount(observer, 'cy') == 1, 0, 'Cy');
		const back = await member(server, 'ada:Ada');
		const state = (await back.nextMessage('presence.state')).data as {
			members: PresenceDiff['set'];
		};
		expect(state.members.find(([id]) => id == 'ada')?.[1].connections).toBe(1);

		// Cy drops later than Ada did, with the same grace: once Cy's leave is announced, an Ada
		// leave from her old connection's grace would have been, before it.
		const from = diffsOf(observer).length;
		const dropped = Date.now();
		cy.socket.terminate();
		await diffUntil(observer, (at) => sawLeave(observer, 'cy', at), from, 'Cy’s leave');
		expect(Date.now() - dropped).toBeGreaterThanOrEqual(SHORT_GRACE);
		expect(sawLeave(observer, 'ada')).toBe(false);
		expect(lastCount(observer, 'ada')).toBe(1);
	});

	it.each([
		['a missed heartbeat (dropped)', (connection: Connection<unknown>) => connection.terminate()],
		['a restart (1012)', (connection: Connection<unknown>) => connection.close(1012, 'Restart')],
		['a slow consumer (1013)', (connection: Connection<unknown>) => connection.close(1013, 'Slow')],
		['an expired token (4001)', (connection: Connection<unknown>) => connection.close(4001, 'x')]
	])('shows a SocketClient that reconnects after %s without a blink', async (_, drop) => {
		const server = await serve(SHORT_GRACE);
		/** Holds Ada's reconnect until a leave, if there were one, was sent. */
		let held: Promise<unknown> = Promise.resolve();
		const client = makeClient(server.url(), {
			auth: async () => (await held, 'ada:Ada'),
			reconnectDelay: 10,
			maxReconnectDelay: 20
		});
		client.joinRoom(ROOM);
		client.connect();
		await reachState(client, 'connected');
		// Whether each view the observer was shown had Ada (a view may be updated in place later).
		const adaShown: boolean[] = [];
		let wake = () => {};
		const observer = makeClient(server.url(), { auth: () => 'obs:Obs' });
		const watch = watchPresence(observer, ROOM, (members) => {
			adaShown.push(members.has('ada'));
			wake();
		});
		observer.connect();
		const seen = (check: () => boolean, what: string) =>
			within(
				(async () => {
					while (!check()) await new Promise<void>((resolve) => (wake = resolve));
				})(),
				what
			);
		await seen(() => watch.members.get('ada')?.connections == 1, 'Ada');
		const first = adaShown.length;
		const adaOnServer = () =>
			[...server.sockets.connections].find(
				(each) => each.userId == 'ada' && each.rooms.has(ROOM) && each.isOpen
			);
		const dropped = adaOnServer()!;
		// Cy joins once Ada's connection is gone: the diff that shows Cy would show Ada leaving too.
		const cy = (async () => {
			await dropped.closed;
			const joined = await member(server, 'cy:Cy');
			await seen(() => watch.members.has('cy'), 'Cy');
			return joined;
		})();
		held = cy;
		drop(dropped);
		await until(() => (adaOnServer() ?? dropped) !== dropped, 'Ada back in the room');
		// Cy drops after Ada: once Cy is gone, any leave of Ada's would have been seen.
		(await cy).socket.terminate();
		await seen(() => !watch.members.has('cy'), 'Cy gone');
		expect(adaShown.slice(first)).not.toContain(false);
		expect(watch.members.get('ada')?.connections).toBe(1);
		client.disconnect();
		observer.disconnect();
	});

	it.each([
		['room.leave', (ada: WsPeer) => ada.send({ name: 'room.leave', data: { room: ROOM } })],
		['the client closing (1000)', (ada: WsPeer) => ada.socket.close(1000)],
		['the page going away (1001)', (ada: WsPeer) => ada.socket.close(1001)],
		[
			'leaveRoom on the server',
			(_: WsPeer, server: RunningServer) => connectionOf(server, 'ada:Ada').leaveRoom(ROOM)
		],
		[
			'a revoked session (4004)',
			(_: WsPeer, server: RunningServer) => connectionOf(server, 'ada:Ada').close(4004, 'Revoked')
		],
		[
			'a policy violation (1008)',
			(_: WsPeer, server: RunningServer) => connectionOf(server, 'ada:Ada').close(1008, 'No')
		]
	])('announces a leave by %s at once, whatever the grace', async (_, leave) => {
		const server = await serve(LONG_GRACE);
		const observer = await member(server, 'obs:Obs');
		const ada = await member(server, 'ada:Ada');
		await diffUntil(observer, () => lastCount(observer, 'ada') == 1, 0, 'Ada');
		leave(ada, server);
		await diffUntil(observer, () => sawLeave(observer, 'ada'), 0, 'Ada’s leave', 2_000);
	});

	it('announces a drop without a return once the grace is over', async () => {
		const server = await serve(SHORT_GRACE);
		const observer = await member(server, 'obs:Obs');
		const ada = await member(server, 'ada:Ada');
		await diffUntil(observer, () => lastCount(observer, 'ada') == 1, 0, 'Ada');
		const dropped = Date.now();
		ada.socket.terminate();
		await diffUntil(observer, () => sawLeave(observer, 'ada'), 0, 'Ada’s leave');
		expect(Date.now() - dropped).toBeGreaterThanOrEqual(SHORT_GRACE);
	});

	it('announces every drop at once with a grace of 0, as without grace', async () => {
		const server = await serve(0);
		const observer = await member(server, 'obs:Obs');
		const ada = await member(server, 'ada:Ada');
		await diffUntil(observer, () => lastCount(observer, 'ada') == 1, 0, 'Ada');
		ada.socket.terminate();
		// The default grace (5 s) would not announce it within a second.
		await diffUntil(observer, () => sawLeave(observer, 'ada'), 0, 'Ada’s leave', 1_000);
	});

	it('leaves nothing listed after server.close(), without waiting for the grace', async () => {
		const engine = new MemoryEngine();
		const server = await serve(LONG_GRACE, { engine });
		await member(server, 'obs:Obs');
		await member(server, 'ada:Ada').then((ada) => ada.socket.terminate());
		await goneFromServer(server, 'ada:Ada');
		const name = presenceRoomOf('/ws', ROOM);
		expect(Object.keys(engine.presence.members(name))).toEqual(['obs', 'ada']);
		// Obs is closed by the server (1001): in grace as well, and nobody is left to see either go.
		await within(server.stop(), 'the server to close', 2_000);
		expect(engine.presence.members(name)).toEqual({});
	});
});
