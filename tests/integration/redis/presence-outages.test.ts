import { describe, expect, it } from 'vitest';
import { watchPresence, type PresenceMembers } from '../../../src/lib/index.js';
import { makeClient } from '../../kit/clients.js';
import { SOAK, scaled } from '../../kit/attack/attack.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { startServerProcess, type ServerProcess } from '../../kit/servers/chaos-server-process.js';
import { reachState, within } from '../../kit/wait.js';

// Presence across two chaos-server processes (tests/kit/servers/chaos-server.ts, PRESENCE=1) while
// Redis goes down again and again: during each outage some tabs leave and others join, more join
// and leave the moment it is back, and every open tab must then show the true set. Half the
// restarts come back empty (the data wiped), half with every acknowledged write (append-only file).
// `npm test` runs two outages; `npm run soak` (SOAK=1) runs forty.

const ROOM = 'team:acme';
const OUTAGES = scaled(2, 40);
/** Short, so entries a process failed to remove go quickly; long enough for a busy machine. */
const PRESENCE_TTL_MS = 1_500;
/** What every tab must reach after each outage (the resync, retries, a TTL at worst). */
const CONVERGE_MS = 15_000;
/** Users of the tabs, `__proto__` among them: a user id is anyone's to choose. */
const USERS = ['ada', 'bob', 'cy', '__proto__', 'eve'];

type Members = PresenceMembers<{ name: string }>;

/** One tab watching the room on `server` as `user`. */
interface Tab {
	readonly user: string;
	readonly server: ServerProcess;
	readonly members: () => Members;
	/** Resolves once the tab shows `expected` (user → connections). */
	until(expected: ReadonlyMap<string, number>, what: string): Promise<void>;
	close(): void;
}

async function openTab(server: ServerProcess, user: string): Promise<Tab> {
	const client = makeClient(server.url, {
		auth: () => `${user}:${user.toUpperCase()}`,
		reconnectDelay: 20,
		maxReconnectDelay: 200
	});
	let wake = () => {};
	const watch = watchPresence<{ name: string }>(client, ROOM, () => wake());
	client.connect();
	await reachState(client, 'connected');
	return {
		user,
		server,
		members: () => watch.members,
		until: (expected, what) =>
			within(
				(async () => {
					while (!same(watch.members, expected)) await new Promise<void>((done) => (wake = done));
				})(),
				what,
				CONVERGE_MS
			).catch((error: Error) => {
				const saw = shown(watch.members);
				throw new Error(
					`${error.message}: ${user} on ${server.port} saw ${saw}, not ${shown(expected)}`
				);
			}),
		close: () => client.disconnect()
	};
}

/** The true set: each user with one connection per open tab of theirs, on either process. */
function trueSet(tabs: readonly Tab[]): Map<string, number> {
	const expected = new Map<string, number>();
	for (const tab of tabs) expected.set(tab.user, (expected.get(tab.user) ?? 0) + 1);
	return expected;
}

function same(members: Members, expected: ReadonlyMap<string, number>): boolean {
	if (members.size != expected.size) return false;
	for (const [user, count] of expected) if (members.get(user)?.connections != count) return false;
	return true;
}

const shown = (members: Members | ReadonlyMap<string, number>) =>
	JSON.stringify(
		[...members].map(([user, value]) => [
			user,
			typeof value == 'number' ? value : value.connections
		])
	);

/** A small deterministic generator (so a failing run can be read again): 0 ≤ result < 1. */
function generator(seed: number): () => number {
	let state = seed;
	return () => {
		state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
		return state / 2 ** 31;
	};
}

describe('presence under Redis outages', () => {
	it(
		`brings every tab on two processes to the true set after each of ${OUTAGES} outages`,
		{ timeout: OUTAGES * 25_000 },
		async () => {
			const redis = await startRedisServer({ persistent: true });
			const env = { REDIS_URL: redis.url, PRESENCE: '1', PRESENCE_TTL_MS: String(PRESENCE_TTL_MS) };
			const servers = await Promise.all([startServerProcess(env), startServerProcess(env)]);
			const random = generator(17);
			const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)];
			const open = (count: number) =>
				Promise.all(Array.from({ length: count }, () => openTab(pick(servers), pick(USERS))));
			const closeSome = (tabs: Tab[], count: number) => {
				for (let closed = 0; closed < count && tabs.length > 1; closed++) {
					const [tab] = tabs.splice(Math.floor(random() * tabs.length), 1);
					tab.close();
				}
			};

			const tabs = await open(6);
			await Promise.all(tabs.map((tab) => tab.until(trueSet(tabs), 'the set before any outage')));
			const times: number[] = [];
			for (let outage = 1; outage <= OUTAGES; outage++) {
				await redis.kill();
				closeSome(tabs, 1);
				tabs.push(...(await open(2)));
				await redis.restart({ wipe: outage % 2 == 1 });
				const backAt = performance.now();
				tabs.push(...(await open(2)));
				closeSome(tabs, 1);
				const expected = trueSet(tabs);
				await Promise.all(
					tabs.map((tab) => tab.until(expected, `the true set after outage ${outage}`))
				);
				times.push(Math.round(performance.now() - backAt));
			}
			if (SOAK) console.log(`presence converged after each outage in (ms): ${times.join(', ')}`);
			for (const tab of tabs) tab.close();
			for (const server of servers) expect(server.crashes, server.log).toEqual([]);
		}
	);
});
