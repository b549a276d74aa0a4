import { afterEach, describe, expect, it } from 'vitest';
import { ClientMessage, watchPresence } from '../../../src/lib/index.js';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import type { RouteOptions } from '../../../src/lib/server/index.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';
import { startSocketServer } from '../../kit/servers/socket-server.js';
import { presentAs, tokenUserAuth, type TokenUser } from '../../kit/token-users.js';
import { reachState, within } from '../../kit/wait.js';

const ROOM = 'team:acme';
const PresenceGet = ClientMessage.define<{ room: string }>('presence.get');
const engines: RedisEngine[] = [];

afterEach(async () => {
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

/** A route of `path` keeping presence in every room, users by `id:name` tokens. */
const route = (path: string): RouteOptions =>
	({
		path,
		origins: 'any',
		firstMessageAuth: tokenUserAuth,
		presence: { member: presentAs }
	}) as RouteOptions<TokenUser> as RouteOptions;

/** A server process of its own (in this one) on `redis`, with the routes `/ws` and `/other`. */
async function serverOn(redis: RedisServer) {
	const engine = new RedisEngine({ redis: redis.url });
	engines.push(engine);
	return startSocketServer({ engine, routes: [route('/ws'), route('/other')] });
}

/** A client of `token` at `url`, watching the room; `until` waits for a view. */
async function tab(url: string, token: string) {
	const client = makeClient(url, { auth: () => token });
	let wake = () => {};
	const watch = watchPresence<{ name: string }>(client, ROOM, () => wake());
	client.connect();
	await reachState(client, 'connected');
	const until = (users: string[], what: string) =>
		within(
			(async () => {
				const same = () => [...watch.members.keys()].sort().join() == users.join();
				while (!same()) await new Promise<void>((done) => (wake = done));
			})(),
			what
		);
	return { client, watch, until };
}

describe('presence by route on Redis', () => {
	it('keeps a room’s presence per route across processes: a route never shows another’s members', async () => {
		const redis = await startRedisServer();
		const [one, two] = [await serverOn(redis), await serverOn(redis)];
		const ada = await tab(one.url('/ws'), 'ada:Ada');
		const bob = await tab(two.url('/other'), 'bob:Bob');
		const cy = await tab(two.url('/ws'), 'cy:Cy');
		const dan = await tab(one.url('/other'), 'dan:Dan');
		for (const each of [ada, cy]) await each.until(['ada', 'cy'], 'the members of /ws');
		for (const each of [bob, dan]) await each.until(['bob', 'dan'], 'the members of /other');

		cy.client.disconnect();
		await ada.until(['ada'], 'Cy gone from /ws');
		// Asked after Cy's change went out: an answer comes after any change sent before it.
		const state = await bob.client.request(PresenceGet, { room: ROOM });
		const { members } = state as { members: [string, unknown][] };
		expect(members.map(([id]) => id).sort()).toEqual(['bob', 'dan']);
	});
});
