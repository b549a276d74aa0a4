import { afterEach, describe, expect, it } from 'vitest';
import {
	Connected,
	Disconnected,
	Unrecoverable,
	type InboundMessage,
	type SocketClient
} from '../../../src/lib/index.js';
import { Cluster } from 'ioredis';
import { RedisEngine, RedisPublisher } from '../../../src/lib/redis/index.js';
import { keySlot, roomKeys } from '../../../src/lib/redis/keys.js';
import { PublishQueue } from '../../../src/lib/redis/publish-queue.js';
import type { StreamPosition } from '../../../src/lib/index.js';
import { Fence, Gate, Seq, Signal } from '../../kit/chaos.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisCluster, type RedisClusterProcess } from '../../kit/servers/redis-cluster.js';
import { startServerProcess, type ServerProcess } from '../../kit/servers/chaos-server-process.js';
import { nextEvent } from '../../kit/wait.js';

// Servers are child processes (tests/kit/servers/chaos-server.ts) whose REDIS_URL names the cluster
// (`redis-cluster://…`); the test publishes through its own engine and publisher on the cluster.

const RECONNECT = { reconnectDelay: 50, maxReconnectDelay: 250 };
const ROOMS = Array.from({ length: 8 }, (_, index) => `room-${index}`);

const closing: { close(): Promise<void> }[] = [];
afterEach(async () => {
	await Promise.all(closing.splice(0).map((part) => part.close()));
});

async function engineOn(cluster: RedisClusterProcess): Promise<RedisEngine> {
	const engine = new RedisEngine({
		redis: { cluster: cluster.nodes },
		history: { size: 10_000 },
		onError: () => {}
	});
	closing.push(engine);
	await engine.start({ deliver: () => {} });
	return engine;
}

function startServers(cluster: RedisClusterProcess, count: number): Promise<ServerProcess[]> {
	const env = { REDIS_URL: cluster.url };
	return Promise.all(Array.from({ length: count }, () => startServerProcess(env)));
}

/** What one client saw, room by room. */
interface RoomsView {
	readonly signal: Signal;
	readonly received: Map<string, number[]>;
	readonly fences: Map<string, number[]>;
	readonly unrecoverable: string[];
	joined(rooms: readonly string[]): Promise<void>;
	fenced(rooms: readonly string[], at: number): Promise<void>;
}

function watchRooms(client: SocketClient, rooms: readonly string[]): RoomsView {
	const signal = new Signal();
	const joins = new Set<string>();
	const view: RoomsView = {
		signal,
		received: new Map(rooms.map((room) => [room, []])),
		fences: new Map(rooms.map((room) => [room, []])),
		unrecoverable: [],
		joined: (wanted) => signal.until(() => wanted.every((room) => joins.has(room)), 'joins'),
		fenced: (wanted, at) =>
			signal.until(
				() => wanted.every((room) => view.fences.get(room)?.includes(at)),
				`fence ${at} in every room`
			)
	};
	client.onMessage((message: InboundMessage) => {
		const room = message.room ?? '';
		const data = message.data as { n?: number; at?: number; room?: string };
		if (message.name == Seq.name) view.received.get(room)?.push(data.n!);
		else if (message.name == Fence.name) view.fences.get(room)?.push(data.at!);
		else if (message.name == 'room.joined' && data.room) joins.add(data.room);
		signal.changed();
	});
	client.on(Unrecoverable, ({ room }) => {
		view.unrecoverable.push(room);
		signal.changed();
	});
	for (const room of rooms) client.joinRoom(room);
	return view;
}

function seq(room: string, n: number) {
	return { name: Seq.name, data: { n }, room, timestamp: Date.now() };
}

/** Publishes `Seq` from..to to every room, all rooms in the same turns (so pipelines span nodes). */
async function publishAll(engine: RedisEngine, rooms: readonly string[], from: number, to: number) {
	for (let n = from; n <= to; n++) {
		await Promise.all(rooms.map((room) => engine.publish(room, seq(room, n))));
	}
}

async function fenceAll(engine: RedisEngine, rooms: readonly string[], at: number) {
	await Promise.all(
		rooms.map((room) =>
			engine.publish(room, { name: Fence.name, data: { at }, room, timestamp: Date.now() })
		)
	);
}

function range(from: number, to: number): number[] {
	return Array.from({ length: to - from + 1 }, (_, index) => from + index);
}

/** The masters that serve `rooms` now. */
async function mastersOf(cluster: RedisClusterProcess, rooms: readonly string[]) {
	const masters = new Map<string, number>();
	for (const room of rooms)
		masters.set(room, await cluster.masterOf(roomKeys('runesocket:', room).position));
	return masters;
}

async function positionsOf(engine: RedisEngine, rooms: readonly string[]) {
	const positions = new Map<string, { offset: number; epoch: string }>();
	for (const room of rooms) positions.set(room, (await engine.history(room)).position);
	return positions;
}

describe('Redis Cluster', { timeout: 60_000 }, () => {
	it('rooms spread over three masters reach clients on two server processes, in order, and a reconnect recovers from history', async () => {
		const cluster = await startRedisCluster();
		const masters = await mastersOf(cluster, ROOMS);
		expect(new Set(masters.values()).size, 'rooms on every master').toBe(3);
		const [a, b] = await startServers(cluster, 2);
		const engine = await engineOn(cluster);
		const publisher = new RedisPublisher({ redis: cluster.url, history: { size: 10_000 } });
		closing.push(publisher);

		const onA = makeClient(a.url, RECONNECT);
		const onB = makeClient(b.url, RECONNECT);
		const viewA = watchRooms(onA, ROOMS);
		const viewB = watchRooms(onB, ROOMS);
		onA.connect();
		onB.connect();
		await Promise.all([viewA.joined(ROOMS), viewB.joined(ROOMS)]);
		// Sharded pub/sub: each room's channel is subscribed on its own master only, by both servers.
		for (const [room, port] of masters) {
			const { channel } = roomKeys('runesocket:', room);
			expect(await cluster.cli(port, 'pubsub', 'shardnumsub', channel)).toBe(`${channel}\n2\n`);
		}

		await publishAll(engine, ROOMS, 1, 50);
		// The publisher (another process of the app) continues the same sequence.
		for (let n = 51; n <= 60; n++) {
			await Promise.all(ROOMS.map((room) => publisher.to(room).emit(Seq, { n })));
		}
		await fenceAll(engine, ROOMS, 1);
		await Promise.all([viewA.fenced(ROOMS, 1), viewB.fenced(ROOMS, 1)]);

		// A goes away while the rooms go on; when it comes back, each room resumes from history.
		const disconnected = nextEvent(onA, Disconnected, 10_000);
		onA.disconnect();
		await disconnected;
		await publishAll(engine, ROOMS, 61, 100);
		const reconnected = nextEvent(onA, Connected, 10_000);
		onA.connect();
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		await fenceAll(engine, ROOMS, 2);
		await Promise.all([viewA.fenced(ROOMS, 2), viewB.fenced(ROOMS, 2)]);

		for (const room of ROOMS) {
			expect(viewA.received.get(room), `${room} on A`).toEqual(range(1, 100));
			expect(viewB.received.get(room), `${room} on B`).toEqual(range(1, 100));
		}
		expect([...viewA.unrecoverable, ...viewB.unrecoverable]).toEqual([]);
		expect(a.crashes, a.log).toEqual([]);
		expect(b.crashes, b.log).toEqual([]);
	});

	it('a client on A fails over to B when A is killed mid-stream: 0 lost, 0 duplicated, every room', async () => {
		const cluster = await startRedisCluster();
		const [a, b] = await startServers(cluster, 2);
		const engine = await engineOn(cluster);

		let target = a;
		const gate = new Gate();
		const client = makeClient(() => gate.pass(() => target.url), RECONNECT);
		const view = watchRooms(client, ROOMS);
		client.connect();
		await view.joined(ROOMS);

		await publishAll(engine, ROOMS, 1, 100);
		await view.signal.until(
			() => ROOMS.every((room) => view.received.get(room)!.length == 100),
			'100 messages in every room'
		);
		gate.close();
		target = b;
		const disconnected = nextEvent(client, Disconnected, 10_000);
		const publishing = publishAll(engine, ROOMS, 101, 300);
		await a.kill();
		await disconnected;
		await publishing;
		const reconnected = nextEvent(client, Connected, 30_000);
		gate.open();
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		await publishAll(engine, ROOMS, 301, 400);
		await fenceAll(engine, ROOMS, 1);
		await view.fenced(ROOMS, 1);

		for (const room of ROOMS) expect(view.received.get(room), room).toEqual(range(1, 400));
		expect(view.unrecoverable).toEqual([]);
		expect(b.crashes, b.log).toEqual([]);
	});

	it('a master killed fails over to its replica: rooms whose history it had replicated recover, only rooms that lost writes are Unrecoverable', async () => {
		const cluster = await startRedisCluster({ replicas: 1 });
		const [server] = await startServers(cluster, 1);
		const engine = await engineOn(cluster);
		const masters = await mastersOf(cluster, ROOMS);
		const victim = masters.get(ROOMS[0])!;
		// The victim's rooms: the first loses its last writes, the others keep all of theirs.
		const [lostRoom, ...keptOnVictim] = ROOMS.filter((room) => masters.get(room) == victim);
		expect(keptOnVictim.length, 'rooms kept on the victim').toBeGreaterThan(0);
		const others = ROOMS.filter((room) => room != lostRoom);

		// `live` stays connected through the failover; `away` is gone during it and comes back later.
		const live = makeClient(server.url, RECONNECT);
		const away = makeClient(server.url, RECONNECT);
		const liveView = watchRooms(live, ROOMS);
		const awayView = watchRooms(away, ROOMS);
		live.connect();
		away.connect();
		await Promise.all([liveView.joined(ROOMS), awayView.joined(ROOMS)]);

		await publishAll(engine, ROOMS, 1, 50);
		await publishAll(engine, keptOnVictim, 51, 60);
		await fenceAll(engine, keptOnVictim, 1);
		await cluster.replicated();
		// What the victim is written from now on never reaches its replica: a real loss.
		await cluster.withholdReplication(victim);
		const written = ROOMS.filter((room) => !keptOnVictim.includes(room));
		await publishAll(engine, written, 51, 60);
		await fenceAll(engine, written, 1);
		await Promise.all([liveView.fenced(ROOMS, 1), awayView.fenced(ROOMS, 1)]);
		const before = await positionsOf(engine, ROOMS);
		const disconnected = nextEvent(away, Disconnected, 10_000);
		away.disconnect();
		await disconnected;

		const replica = await cluster.replicaOf(victim);
		await cluster.masters.find((node) => node.port == victim)!.kill();
		await cluster.failedOver(victim);
		expect(await cluster.masterOf(roomKeys('runesocket:', lostRoom).position, replica)).toBe(
			replica
		);

		// The truth after the failover, from the positions the engine reports: a room lost history
		// when its epoch changed or its offset went back.
		const after = await positionsOf(engine, ROOMS);
		const lost = ROOMS.filter(
			(room) =>
				after.get(room)!.epoch != before.get(room)!.epoch ||
				after.get(room)!.offset < before.get(room)!.offset
		);
		expect(lost).toEqual([lostRoom]);
		// The server resyncs once its subscriber is back, and tells its members about the loss.
		await liveView.signal.until(
			() => liveView.unrecoverable.includes(lostRoom),
			'Unrecoverable for the room that lost writes'
		);
		// The rooms that kept their history go on while `away` is away, then it catches up.
		await publishAll(engine, others, 61, 80);
		const reconnected = nextEvent(away, Connected, 10_000);
		away.connect();
		expect(await reconnected).toEqual({ reconnected: true, recovered: false });
		await publishAll(engine, [lostRoom], 61, 80);
		await fenceAll(engine, ROOMS, 2);
		await Promise.all([liveView.fenced(ROOMS, 2), awayView.fenced(ROOMS, 2)]);

		for (const view of [liveView, awayView]) {
			expect(view.unrecoverable).toEqual([lostRoom]);
			for (const room of ROOMS) expect(view.received.get(room), room).toEqual(range(1, 80));
		}
		expect(server.crashes, server.log).toEqual([]);
	});
});

/** Room names that once scattered a room's keys over several slots, or could. */
const HOSTILE_ROOMS = [
	'}x',
	'',
	'}',
	'{',
	'}}',
	'{}',
	'%',
	'%7D',
	'50%',
	'é😀}',
	'\uD800}',
	'}'.repeat(256)
];
const ORDINARY_ROOMS = Array.from({ length: 30 }, (_, index) => `ordinary-${index}`);

/** Publishes `Seq` `n` to every room in one turn; resolves with each room's outcome. */
function publishTurn(
	publish: (room: string) => Promise<StreamPosition | undefined>,
	rooms: readonly string[]
): Promise<PromiseSettledResult<StreamPosition | undefined>[]> {
	return Promise.allSettled(rooms.map(publish));
}

describe('Redis Cluster room names', { timeout: 60_000 }, () => {
	// Issue 17 item 1: `}x` had an empty hash tag, so its keys went to several slots, and the pipeline
	// of the turn it was published in was refused whole: 10 of 30 other rooms failed with it.
	it('hostile names keep their keys in one slot, publish and recover through RedisEngine and RedisPublisher, and 30 ordinary rooms of the same turns never fail', async () => {
		const cluster = await startRedisCluster();
		const rooms = [...HOSTILE_ROOMS, ...ORDINARY_ROOMS];
		const delivered = new Map<string, number[]>(rooms.map((room) => [room, []]));
		const signal = new Signal();
		const engine = new RedisEngine({
			redis: { cluster: cluster.nodes },
			history: { size: 100 },
			onError: () => {}
		});
		closing.push(engine);
		await engine.start({
			deliver: (room, message) => {
				delivered.get(room)?.push((message as { data: { n: number } }).data.n);
				signal.changed();
			}
		});
		await Promise.all(rooms.map((room) => engine.subscribe(room)));
		const publisher = new RedisPublisher({ redis: cluster.url, history: { size: 100 } });
		closing.push(publisher);

		const epochs = new Map<string, string>();
		for (let n = 1; n <= 6; n++) {
			// Turns 1-3 from the engine, 4-6 from the publisher, which refuses an empty room name.
			const outcomes = await publishTurn(
				(room) =>
					n <= 3 || room === ''
						? engine.publish(room, seq(room, n))
						: publisher.to(room).emit(Seq, { n }),
				rooms
			);
			const failed = rooms.filter((_, index) => outcomes[index].status == 'rejected');
			expect(failed, `rooms that failed in turn ${n}`).toEqual([]);
			outcomes.forEach((outcome, index) => {
				const room = rooms[index];
				const position = (outcome as PromiseFulfilledResult<StreamPosition>).value;
				expect(position, `${JSON.stringify(room)} turn ${n}`).toEqual({
					offset: n,
					epoch: epochs.get(room) ?? position.epoch
				});
				epochs.set(room, position.epoch);
			});
		}
		await expect(publisher.to('').emit(Seq, { n: 7 })).rejects.toThrow(TypeError);
		await signal.until(
			() => rooms.every((room) => delivered.get(room)!.length == 6),
			'6 messages in every room'
		);
		for (const room of rooms) {
			expect(delivered.get(room), JSON.stringify(room)).toEqual(range(1, 6));
			const { recovered, messages } = await engine.history(room, {
				offset: 2,
				epoch: epochs.get(room)!
			});
			expect(recovered, JSON.stringify(room)).toBe(true);
			expect(messages.map((message) => (message.data as { n: number }).n)).toEqual(range(3, 6));
		}
		// Every key of a room in the slot Redis itself gives it, which is the one the queue groups by.
		for (const room of HOSTILE_ROOMS) {
			const keys = Object.values(roomKeys('runesocket:', room));
			const slots = await Promise.all(
				keys.map(async (key) =>
					Number(await cluster.cli(cluster.nodes[0].port, 'cluster', 'keyslot', key))
				)
			);
			expect(new Set(slots).size, JSON.stringify(room)).toBe(1);
			expect(slots[0], JSON.stringify(room)).toBe(keySlot(keys[0]));
		}
	});

	// Defence in depth: whatever a room's keys, one room must never fail another's publish.
	it('a room whose keys cannot go in one pipeline fails alone: every other room of its turn is published', async () => {
		const cluster = await startRedisCluster();
		const redis = new Cluster([...cluster.nodes]);
		redis.on('error', () => {});
		closing.push({ close: () => redis.quit().then(() => undefined) });
		await redis.ping();
		// The keys of before the fix: `{}x}` has no tag, so its position and history part ways.
		const legacyKeys = (room: string) => ({
			position: `runesocket:{${room}}:position`,
			history: `runesocket:{${room}}:history`,
			channel: `runesocket:{${room}}:messages`
		});
		const queue = new PublishQueue({
			redis,
			keys: legacyKeys,
			history: { size: 100 },
			retention: 60_000,
			timeout: 5_000,
			failure: (room, error) => new Error(`${room}: ${String(error)}`)
		});
		const rooms = ['}x', ...ORDINARY_ROOMS];
		for (let n = 1; n <= 3; n++) {
			const outcomes = await Promise.allSettled(
				rooms.map((room) => queue.publish(room, { name: 'seq', data: { n } }, undefined))
			);
			expect(outcomes[0].status).toBe('rejected');
			const failed = rooms.filter((_, index) => index > 0 && outcomes[index].status != 'fulfilled');
			expect(failed, `turn ${n}`).toEqual([]);
		}
	});
});
