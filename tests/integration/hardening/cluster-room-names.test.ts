/**
 * Hostile room names on a Redis Cluster under publish load (issue 17, item 1): names that end a
 * hash tag (`}`), open one (`{`), carry the tag's escape (`%`), unicode, and the longest a client
 * may send, published in the same turns as ordinary rooms, through a `RedisEngine` and a
 * `RedisPublisher`, to clients on two server processes, one of which leaves and comes back. No
 * room, hostile or not, may lose, repeat or reorder a message, and no publish may fail. `npm run
 * soak` (SOAK=1) runs the long version: more names, more rooms, more turns, more comebacks.
 */
import { describe, expect, it } from 'vitest';
import {
	Connected,
	Disconnected,
	Unrecoverable,
	type InboundMessage,
	type SocketClient
} from '../../../src/lib/index.js';
import { RedisEngine, RedisPublisher } from '../../../src/lib/redis/index.js';
import { recordAttack } from '../../kit/attack/attack-summary.js';
import { scaled } from '../../kit/attack/attack.js';
import { Fence, Seq, Signal, few, tally } from '../../kit/chaos.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisCluster } from '../../kit/servers/redis-cluster.js';
import { startServerProcess, type ServerProcess } from '../../kit/servers/chaos-server-process.js';
import { nextEvent } from '../../kit/wait.js';

/** What hostile names are made of: each piece means something to a hash tag or its escape. */
const PIECES = ['}', '{', '%', '%7D', '%25', 'é', '😀', 'x', ':'];
const HOSTILE_COUNT = scaled(6, 40);
const ORDINARY_COUNT = scaled(10, 30);
const TURNS = scaled(20, 3_000);
/** How many times the second client leaves and comes back while the turns go on. */
const COMEBACKS = scaled(1, 6);
const RECONNECT = { reconnectDelay: 50, maxReconnectDelay: 250 };
const MB = 1024 * 1024;

/** The `index`th hostile name: `}` then the base-9 digits of `index` as pieces (all distinct). */
function hostileName(index: number): string {
	let name = '}';
	for (let rest = index; rest > 0; rest = Math.floor(rest / PIECES.length)) {
		name += PIECES[rest % PIECES.length];
	}
	return name;
}

/** The names: always the classics, the longest a client may send, then generated ones. */
function hostileNames(count: number): string[] {
	const names = new Set(['}x', '}', '{}', '%', '}'.repeat(256)]);
	for (let index = 1; names.size < count; index++) names.add(hostileName(index));
	return [...names].slice(0, count);
}

/** What one client saw, room by room. */
interface RoomsView {
	readonly signal: Signal;
	readonly received: Map<string, number[]>;
	readonly fences: Map<string, number[]>;
	readonly unrecoverable: string[];
	/** Rooms whose join was answered. */
	readonly joined: Set<string>;
}

function watchRooms(client: SocketClient, rooms: readonly string[]): RoomsView {
	const view: RoomsView = {
		signal: new Signal(),
		received: new Map(rooms.map((room) => [room, []])),
		fences: new Map(rooms.map((room) => [room, []])),
		unrecoverable: [],
		joined: new Set()
	};
	client.onMessage((message: InboundMessage) => {
		const room = message.room ?? '';
		if (message.name == Seq.name) view.received.get(room)?.push((message.data as { n: number }).n);
		else if (message.name == 'room.joined')
			view.joined.add((message.data as { room: string }).room);
		else if (message.name == Fence.name)
			view.fences.get(room)?.push((message.data as { at: number }).at);
		view.signal.changed();
	});
	client.on(Unrecoverable, ({ room }) => {
		view.unrecoverable.push(room);
		view.signal.changed();
	});
	for (const room of rooms) client.joinRoom(room);
	return view;
}

function fenced(view: RoomsView, rooms: readonly string[], at: number): Promise<void> {
	return view.signal.until(
		() => rooms.every((room) => view.fences.get(room)?.includes(at)),
		`fence ${at} in every room`,
		60_000
	);
}

async function rssOf(servers: readonly ServerProcess[]): Promise<number> {
	const stats = await Promise.all(servers.map((server) => server.stats()));
	return stats.reduce((sum, { rss }) => sum + rss, 0);
}

describe('hostile room names on a cluster', { timeout: scaled(60_000, 600_000) }, () => {
	it(`${HOSTILE_COUNT} hostile names and ${ORDINARY_COUNT} ordinary rooms, ${TURNS} turns: no room loses a message`, async () => {
		const hostile = hostileNames(HOSTILE_COUNT);
		const ordinary = Array.from({ length: ORDINARY_COUNT }, (_, index) => `ordinary-${index}`);
		const rooms = [...hostile, ...ordinary];
		const cluster = await startRedisCluster();
		const servers = await Promise.all(
			[0, 1].map(() => startServerProcess({ REDIS_URL: cluster.url }))
		);
		const engine = new RedisEngine({
			redis: { cluster: cluster.nodes },
			history: { size: 10_000 },
			onError: () => {}
		});
		const publisher = new RedisPublisher({ redis: cluster.url, history: { size: 10_000 } });
		const parts = [engine, publisher];
		try {
			await engine.start({ deliver: () => {} });
			const stays = makeClient(servers[0].url, RECONNECT);
			const leaves = makeClient(servers[1].url, RECONNECT);
			const views = [watchRooms(stays, rooms), watchRooms(leaves, rooms)];
			stays.connect();
			leaves.connect();
			// Published before a room's join was answered, a message is not the client's to get.
			await Promise.all(
				views.map((view) =>
					view.signal.until(() => view.joined.size == rooms.length, 'every join answered', 20_000)
				)
			);
			await Promise.all(servers.map((server) => server.stats()));
			const rssBefore = await rssOf(servers);

			/** Rooms whose publish failed, with the turn: must stay empty. */
			const failures: string[] = [];
			const comebackEvery = Math.floor(TURNS / (COMEBACKS + 1));
			for (let n = 1; n <= TURNS; n++) {
				if (n % comebackEvery == 0 && n / comebackEvery <= COMEBACKS) {
					await comeBack(leaves, async () => {
						// The rooms go on while it is away: what it missed comes back from history.
						await publishTurn(n, rooms, engine, publisher, failures);
					});
					continue;
				}
				await publishTurn(n, rooms, engine, publisher, failures);
			}
			await Promise.all(
				rooms.map((room) =>
					engine.publish(room, { name: Fence.name, data: { at: 1 }, timestamp: Date.now() })
				)
			);
			await Promise.all(views.map((view) => fenced(view, rooms, 1)));

			const sent = Array.from({ length: TURNS }, (_, index) => index + 1);
			let lost = 0;
			const wrong: string[] = [];
			for (const [index, view] of views.entries()) {
				for (const room of rooms) {
					const result = tally(sent, view.received.get(room)!);
					lost += result.lost.length;
					if (result.lost.length || result.duplicated.length || !result.ordered) {
						wrong.push(
							`client ${index + 1} ${JSON.stringify(room).slice(0, 40)}: lost ${few(result.lost)}, duplicated ${few(result.duplicated)}`
						);
					}
				}
			}
			const stats = await Promise.all(servers.map((server) => server.stats()));
			recordAttack({
				attack: `hostile room names on a cluster (${hostile.length} + ${ordinary.length} rooms, ${TURNS} turns)`,
				inputs: TURNS * rooms.length,
				survived: servers.every((server) => server.running),
				rssBeforeMb: Math.round((rssBefore / MB) * 10) / 10,
				rssAfterMb: Math.round((stats.reduce((sum, { rss }) => sum + rss, 0) / MB) * 10) / 10,
				lost,
				longestStallMs: Math.max(...stats.map(({ maxStallMs }) => maxStallMs))
			});
			expect(failures, 'publishes that failed').toEqual([]);
			expect(wrong, 'rooms that lost, repeated or reordered a message').toEqual([]);
			expect(views.flatMap((view) => view.unrecoverable)).toEqual([]);
			for (const server of servers) expect(server.crashes, server.log).toEqual([]);
		} finally {
			await Promise.all(parts.map((part) => part.close()));
		}
	});
});

/** One turn: `Seq` n to every room at once, from the engine on odd turns, the publisher on even. */
async function publishTurn(
	n: number,
	rooms: readonly string[],
	engine: RedisEngine,
	publisher: RedisPublisher,
	failures: string[]
): Promise<void> {
	const outcomes = await Promise.allSettled(
		rooms.map((room) =>
			n % 2
				? engine.publish(room, { name: Seq.name, data: { n }, timestamp: Date.now() })
				: publisher.to(room).emit(Seq, { n })
		)
	);
	outcomes.forEach((outcome, index) => {
		if (outcome.status == 'rejected') failures.push(`${JSON.stringify(rooms[index])} turn ${n}`);
	});
}

/** Disconnects `client`, runs `meanwhile`, reconnects it: it must recover every room. */
async function comeBack(client: SocketClient, meanwhile: () => Promise<void>): Promise<void> {
	const disconnected = nextEvent(client, Disconnected, 10_000);
	client.disconnect();
	await disconnected;
	await meanwhile();
	const reconnected = nextEvent(client, Connected, 20_000);
	client.connect();
	expect(await reconnected).toEqual({ reconnected: true, recovered: true });
}
