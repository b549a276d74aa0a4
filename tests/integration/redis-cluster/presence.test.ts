import { describe, expect, it } from 'vitest';
import { watchPresence, type PresenceMembers } from '../../../src/lib/index.js';
import { type PresenceWatch } from '../../../src/lib/client/presence.js';
import { roomKeys } from '../../../src/lib/redis/keys.js';
import { presenceRoomKeys } from '../../../src/lib/redis/redis-presence.js';
import { presenceRoomOf } from '../../../src/lib/engine/presence-scope.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisCluster, type RedisClusterProcess } from '../../kit/servers/redis-cluster.js';
import { startServerProcess, type ServerProcess } from '../../kit/servers/chaos-server-process.js';
import { reachState, within } from '../../kit/wait.js';

// Two chaos-server processes (tests/kit/servers/chaos-server.ts, PRESENCE=1) on a 3-master cluster:
// each room's presence keys and channel live on the master of the room's hash tag, and changes go
// out with SPUBLISH there, so both processes must hear every room from its own master.

const PREFIX = 'runesocket:';
const ROOMS = Array.from({ length: 6 }, (_, index) => `team:${index}`);
const EVEN = ROOMS.filter((_, index) => index % 2 == 0);
const ODD = ROOMS.filter((_, index) => index % 2 == 1);
/** Short, so a killed process's users vanish quickly; long enough for a busy machine's heartbeats. */
const PRESENCE_TTL_MS = 1_500;

type Members = PresenceMembers<{ name: string }>;
/** `{ user: connections }` in every room. */
type Expected = ReadonlyMap<string, Record<string, number>>;

/** One browser tab of a user: a client on one server watching the presence of some rooms. */
interface Tab {
	readonly user: string;
	readonly server: ServerProcess;
	readonly rooms: readonly string[];
	/** Resolves once every room of the tab shows what `expected` says of it. */
	until(expected: Expected, what: string, ms?: number): Promise<void>;
	close(): void;
}

/** `{ user: connections }` of a view. */
const counts = (members: Members) =>
	Object.fromEntries([...members].map(([id, entry]) => [id, entry.connections]));

function matches(members: Members, expected: Record<string, number>): boolean {
	return (
		members.size == Object.keys(expected).length &&
		Object.entries(expected).every(([id, count]) => members.get(id)?.connections == count)
	);
}

async function openTab(server: ServerProcess, user: string, rooms: readonly string[]) {
	const client = makeClient(server.url, {
		auth: () => `${user}:${user.toUpperCase()}`,
		reconnectDelay: 20,
		maxReconnectDelay: 100
	});
	let wake = () => {};
	const watches = new Map<string, PresenceWatch<{ name: string }>>(
		rooms.map((room) => [room, watchPresence<{ name: string }>(client, room, () => wake())])
	);
	client.connect();
	await reachState(client, 'connected');
	const seen = () =>
		JSON.stringify(Object.fromEntries([...watches].map(([room, w]) => [room, counts(w.members)])));
	const tab: Tab = {
		user,
		server,
		rooms,
		until: (expected, what, ms) =>
			within(
				(async () => {
					const done = () =>
						rooms.every((room) => matches(watches.get(room)!.members, expected.get(room) ?? {}));
					while (!done()) await new Promise<void>((resolve) => (wake = resolve));
				})(),
				what,
				ms
			).catch((error: Error) => {
				throw new Error(`${error.message} (${user} on :${server.port} saw ${seen()})`);
			}),
		close: () => client.disconnect()
	};
	return tab;
}

/** What every room should show: each user's tabs in it, counted. */
function expectedOf(tabs: readonly Tab[]): Expected {
	const expected = new Map<string, Record<string, number>>(ROOMS.map((room) => [room, {}]));
	for (const tab of tabs) {
		for (const room of tab.rooms) {
			const users = expected.get(room)!;
			users[tab.user] = (users[tab.user] ?? 0) + 1;
		}
	}
	return expected;
}

/** The presence keys of `room` on the chaos server's route (presence is kept per route). */
const keysOf = (room: string) => presenceRoomKeys(PREFIX, presenceRoomOf('/ws', room));

/** The master (port) serving each room's presence keys now. */
async function mastersOf(cluster: RedisClusterProcess): Promise<Map<string, number>> {
	const masters = new Map<string, number>();
	for (const room of ROOMS) masters.set(room, await cluster.masterOf(keysOf(room).users));
	return masters;
}

describe('presence on a Redis Cluster', { timeout: 60_000 }, () => {
	it('merges tabs on two processes in rooms over three masters; a killed process’s users vanish once their entries expire', async () => {
		const cluster = await startRedisCluster();
		const masters = await mastersOf(cluster);
		expect(new Set(masters.values()).size, 'rooms on every master').toBe(3);
		const env = {
			REDIS_URL: cluster.url,
			PRESENCE: '1',
			PRESENCE_TTL_MS: String(PRESENCE_TTL_MS)
		};
		const [a, b] = await Promise.all([startServerProcess(env), startServerProcess(env)]);

		const tabs = [
			await openTab(a, 'ada', ROOMS),
			await openTab(a, 'ada', ROOMS),
			await openTab(b, 'ada', ROOMS),
			await openTab(b, 'bob', EVEN),
			await openTab(a, 'cy', ODD),
			await openTab(a, 'dee', ROOMS.slice(0, 3)),
			await openTab(b, 'dee', ROOMS.slice(2))
		];
		const everyone = expectedOf(tabs);
		for (const tab of tabs) await tab.until(everyone, 'the merged sets');

		// Every room's state sits on its own master, and both processes hear it there (sharded).
		for (const [room, port] of masters) {
			const keys = keysOf(room);
			expect(await cluster.cli(port, 'hlen', keys.processes), room).toBe('2\n');
			const { channel } = roomKeys(PREFIX, room);
			expect(await cluster.cli(port, 'pubsub', 'shardnumsub', channel), room).toBe(
				`${channel}\n2\n`
			);
		}

		await a.kill();
		// A died without a word: B's tabs see its users go once A's time in each room passes.
		const onB = tabs.filter((tab) => tab.server == b);
		const left = expectedOf(onB);
		for (const tab of onB)
			await tab.until(left, 'A’s users to vanish', PRESENCE_TTL_MS * 2 + 5_000);
		for (const [room, port] of masters) {
			const { processes } = keysOf(room);
			expect(await cluster.cli(port, 'hlen', processes), `${room}: B alone`).toBe('1\n');
		}

		// A comes back on its port: its tabs reconnect and everyone gets the merged sets again.
		await a.restart();
		for (const tab of tabs) await tab.until(everyone, 'the merged sets after A came back');
		for (const tab of tabs) tab.close();
		expect(b.crashes, b.log).toEqual([]);
	});
});
