import { afterEach, describe, expect, it, vi } from 'vitest';
import {
	ClientMessage,
	Connected,
	Disconnected,
	Unrecoverable,
	type SocketClient,
	type StreamPosition
} from '../../src/lib/index.js';
import { MemoryEngine } from '../../src/lib/server/index.js';
import type { HistoryResult } from '../../src/lib/engine/engine.js';
import {
	CHAOS_ROOM as ROOM,
	Fence,
	Gate,
	Publisher,
	Seq,
	few,
	report,
	watchStream as watch
} from '../kit/chaos.js';
import { makeClient, track } from '../kit/clients.js';
import { startSocketServer, type RunningServer } from '../kit/servers/socket-server.js';
import { nextEvent, reachState, within } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';

afterEach(() => {
	vi.useRealTimers();
	vi.restoreAllMocks();
});

const RECONNECT = { reconnectDelay: 20, maxReconnectDelay: 100 };

function startServer(engine: MemoryEngine): Promise<RunningServer> {
	return startSocketServer({ engine, routes: [{ path: '/ws', origins: 'any' }] });
}

/** The server-side connection ids `client` was given, in order (from its `connected` messages). */
function connectionIds(client: SocketClient): string[] {
	const ids: string[] = [];
	client.onMessage((message) => {
		if (message.name == 'connected') ids.push((message.data as { id: string }).id);
	});
	return ids;
}

/** Server-side connections of `running` (every one, or those with `ids`), dropped without a close frame. */
async function dropAll(running: RunningServer, ids?: readonly string[]): Promise<void> {
	const connections = [...running.sockets.connections].filter(
		(connection) => !ids || ids.includes(connection.id)
	);
	for (const connection of connections) connection.terminate();
	await within(
		Promise.all(connections.map((connection) => connection.closed)),
		'the server to see its connections go'
	);
}

/** A client that reaches the server only while its gate is open, joined to ROOM and watched. */
async function joinedClient(url: () => string) {
	const gate = new Gate();
	const client = makeClient(() => gate.pass(url), RECONNECT);
	const view = watch(client);
	client.joinRoom(ROOM);
	client.connect();
	await view.joined();
	return { gate, client, view };
}

/** Drops the client's connections (all, or those with `ids`) and keeps it away until the gate opens. */
async function keepAway(
	gate: Gate,
	client: ReturnType<typeof makeClient>,
	running: RunningServer,
	ids?: readonly string[]
) {
	gate.close();
	const disconnected = nextEvent(client, Disconnected, 10_000);
	await dropAll(running, ids);
	return disconnected;
}

function seq(running: RunningServer) {
	return (n: number) => running.sockets.publish(Seq, { n }, { room: ROOM });
}

describe('recovery after a network drop (MemoryEngine)', { timeout: 30_000 }, () => {
	it('reconnects and gets every message exactly once, in order, recovered', async () => {
		const running = await startServer(new MemoryEngine({ history: { size: 10_000 } }));
		const { gate, client, view } = await joinedClient(() => running.url());

		const publisher = new Publisher(seq(running), 2);
		await view.receivedAtLeast(200);
		// The drop happens mid-stream; the client stays away until 100 more were published.
		const disconnected = keepAway(gate, client, running);
		expect((await disconnected).willReconnect).toBe(true);
		const away = publisher.sent.length;
		await publisher.reach(away + 100);
		const reconnected = nextEvent(client, Connected, 20_000);
		gate.open();
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		await publisher.reach(Math.max(publisher.sent.length + 200, 1_000));
		await publisher.stop();
		await running.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		await view.fenced(1);

		const result = report('drop', publisher.numbers, view.received);
		expect(result.lost.length, `lost ${few(result.lost)}`).toBe(0);
		expect(result.duplicated.length, `duplicated ${few(result.duplicated)}`).toBe(0);
		expect(result.ordered).toBe(true);
		expect(view.unrecoverable).toEqual([]);
		expect(view.connected).toEqual([
			{ reconnected: false, recovered: true },
			{ reconnected: true, recovered: true }
		]);
	});
});

describe('duplicates and stale offsets', { timeout: 30_000 }, () => {
	it('hands each room message to the handlers once, and rejoins from the last one seen', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnectDelay: 1 });
		const view = watch(client);
		const all: number[] = [];
		client.onMessage((message) => {
			if (message.name == 'seq') all.push((message.data as { n: number }).n);
		});
		client.joinRoom('r');
		client.connect();
		const peer = await server.connection(0);
		await peer.waitForFrame((frame) => frame.includes('room.join'), 'the join');
		peer.deliver('room.joined', { room: 'r', offset: 0, epoch: 'e1', recovered: true });
		const at = (n: number, room = 'r', epoch = 'e1') =>
			peer.deliver('seq', { n }, { room, offset: n, epoch });
		at(1);
		at(2);
		at(2); // the same message again
		at(1); // an older one
		at(3);
		at(3);
		at(2);
		peer.deliver('fence', { at: 1 }, { room: 'r', offset: 4, epoch: 'e1' });
		await view.fenced(1);
		expect(view.received).toEqual([1, 2, 3]);
		expect(all).toEqual([1, 2, 3]);

		// A reconnection asks for what followed offset 4; a replay that overlaps what was seen is
		// dropped up to there.
		const reconnected = nextEvent(client, Connected);
		peer.socket.terminate();
		const again = await server.connection(1);
		const join = JSON.parse(
			await again.waitForFrame((frame) => frame.includes('room.join'), 'the rejoin')
		) as { data: { room: string; since?: StreamPosition } };
		expect(join.data).toEqual({ room: 'r', since: { offset: 4, epoch: 'e1' } });
		again.deliver('room.joined', { room: 'r', offset: 5, epoch: 'e1', recovered: true });
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		const replay = (n: number) =>
			again.deliver('seq', { n }, { room: 'r', offset: n, epoch: 'e1' });
		replay(3);
		replay(5);
		replay(5);
		again.deliver('fence', { at: 2 }, { room: 'r', offset: 6, epoch: 'e1' });
		await view.fenced(2);
		expect(view.received).toEqual([1, 2, 3, 5]);
		expect(view.fences).toEqual([1, 2]);
	});
});

describe('recovery that history cannot give', { timeout: 30_000 }, () => {
	it('history too short: Unrecoverable, recovered false, then live messages without duplicates', async () => {
		const running = await startServer(new MemoryEngine({ history: { size: 5 } }));
		const { gate, client, view } = await joinedClient(() => running.url());

		const publisher = new Publisher(seq(running), 2);
		await view.receivedAtLeast(100);
		const disconnected = keepAway(gate, client, running);
		await disconnected;
		const before = view.received.length;
		// More than the 5 messages history keeps go by while the client is away.
		await publisher.reach(publisher.sent.length + 50);
		const unrecoverable = nextEvent(client, Unrecoverable, 20_000);
		const reconnected = nextEvent(client, Connected, 20_000);
		gate.open();
		expect(await unrecoverable).toEqual({ room: ROOM });
		expect(await reconnected).toEqual({ reconnected: true, recovered: false });
		await view.receivedAtLeast(before + 300);
		await publisher.stop();
		await running.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		await view.fenced(1);

		const result = report('short-history', publisher.numbers, view.received);
		expect(result.duplicated.length, `duplicated ${few(result.duplicated)}`).toBe(0);
		expect(result.ordered).toBe(true);
		// Offsets are the sequence numbers here (one publisher, a fresh room): what was lost is
		// exactly what came between the last message before the drop and the position the
		// rejoin was told to continue from; everything after it arrived.
		const reset = view.answers.at(-1) as { offset: number; recovered: boolean };
		expect(reset.recovered).toBe(false);
		const last = view.received[before - 1];
		const gap = publisher.numbers.filter((n) => n > last && n <= reset.offset);
		expect(gap.length).toBeGreaterThan(5);
		expect(result.lost).toEqual(gap);
		expect(view.received.slice(before)).toEqual(publisher.numbers.filter((n) => n > reset.offset));
		expect(view.unrecoverable).toEqual([ROOM]);
	});

	it('a server restarted with a fresh engine: a new epoch, Unrecoverable, then live messages', async () => {
		const first = await startServer(new MemoryEngine());
		const port = first.port;
		let current = first;
		const { gate, client, view } = await joinedClient(() => current.url());
		const oldEpoch = view.answers[0].epoch;

		const before = new Publisher(seq(first), 2);
		await view.receivedAtLeast(50);
		await before.stop();
		await first.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		await view.fenced(1);

		// The server goes (1001, the client retries), and comes back on its port with nothing.
		gate.close();
		const disconnected = nextEvent(client, Disconnected, 10_000);
		await first.stop();
		expect((await disconnected).code).toBe(1001);
		current = await startSocketServer(
			{ engine: new MemoryEngine(), routes: [{ path: '/ws', origins: 'any' }] },
			port
		);
		const last = before.numbers.at(-1)!;
		for (let n = last + 1; n <= last + 10; n++) await seq(current)(n);
		const unrecoverable = nextEvent(client, Unrecoverable, 20_000);
		const reconnected = nextEvent(client, Connected, 20_000);
		gate.open();
		expect(await unrecoverable).toEqual({ room: ROOM });
		expect(await reconnected).toEqual({ reconnected: true, recovered: false });
		const reset = view.answers.at(-1)!;
		expect(reset).toMatchObject({ room: ROOM, offset: 10, recovered: false });
		expect(reset.epoch).not.toBe(oldEpoch);

		const after = new Publisher(seq(current), 2, last + 11);
		await view.receivedAtLeast(before.sent.length + 200);
		await after.stop();
		await current.sockets.publish(Fence, { at: 2 }, { room: ROOM });
		await view.fenced(2);

		const published = [...before.numbers, ...after.numbers];
		const result = report('restart-fresh-engine', published, view.received);
		expect(result.duplicated.length, `duplicated ${few(result.duplicated)}`).toBe(0);
		expect(result.ordered).toBe(true);
		expect(result.lost.length, `lost ${few(result.lost)}`).toBe(0);
		expect(view.received).toEqual(published);
	});

	it('a room the MemoryEngine forgot: a new epoch, Unrecoverable', async () => {
		vi.useFakeTimers({ toFake: ['Date'] });
		const engine = new MemoryEngine({ history: { size: 100, ttl: 60_000 } });
		const running = await startServer(engine);
		const { gate, client, view } = await joinedClient(() => running.url());
		for (let n = 1; n <= 20; n++) await seq(running)(n);
		await view.receivedAtLeast(20);

		// The room's last member leaves: the engine may forget the room once it is idle.
		const disconnected = keepAway(gate, client, running);
		await disconnected;
		// Two minutes later: its history expired, and the next publish sweeps idle rooms.
		vi.setSystemTime(Date.now() + 120_000);
		for (let n = 21; n <= 30; n++) await seq(running)(n);
		expect((await running.sockets.position(ROOM)).offset).toBe(10);

		const unrecoverable = nextEvent(client, Unrecoverable, 20_000);
		const reconnected = nextEvent(client, Connected, 20_000);
		gate.open();
		expect(await unrecoverable).toEqual({ room: ROOM });
		expect(await reconnected).toEqual({ reconnected: true, recovered: false });
		for (let n = 31; n <= 40; n++) await seq(running)(n);
		await running.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		await view.fenced(1);
		const published = Array.from({ length: 40 }, (_, index) => index + 1);
		const result = report('forgotten-room', published, view.received);
		expect(result.duplicated.length, `duplicated ${few(result.duplicated)}`).toBe(0);
		expect(view.received).toEqual([...published.slice(0, 20), ...published.slice(30)]);
	});
});

describe('joining from a known position', { timeout: 30_000 }, () => {
	it('replays exactly what was published after server.position(room), then goes on live', async () => {
		const running = await startServer(new MemoryEngine({ history: { size: 1_000 } }));
		for (let n = 1; n <= 10; n++) await seq(running)(n);
		const position = await running.sockets.position(ROOM);
		expect(position.offset).toBe(10);
		for (let n = 11; n <= 30; n++) await seq(running)(n);

		// One client joins from the position before connecting, one once it is connected.
		const early = makeClient(running.url());
		const earlyView = watch(early);
		early.joinRoom(ROOM, position);
		const earlyConnected = nextEvent(early, Connected);
		early.connect();
		expect(await earlyConnected).toEqual({ reconnected: false, recovered: true });

		const late = makeClient(running.url());
		const lateView = watch(late);
		const lateConnected = nextEvent(late, Connected);
		late.connect();
		await lateConnected;
		late.joinRoom(ROOM, position);
		await lateView.joined();
		expect(lateView.answers[0]).toMatchObject({ offset: 30, recovered: true });
		expect(lateView.unrecoverable).toEqual([]);

		const publisher = new Publisher(seq(running), 2, 31);
		await publisher.reach(200);
		await publisher.stop();
		await running.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		await earlyView.fenced(1);
		await lateView.fenced(1);
		const expected = [
			...Array.from({ length: 20 }, (_, index) => index + 11),
			...publisher.numbers
		];
		report('join-since', expected, earlyView.received);
		expect(earlyView.received).toEqual(expected);
		expect(lateView.received).toEqual(expected);
	});
});

// Room messages that do not go through `server.publish` (a connection's broadcast, another
// process's engine) are named after their room by the server too, so clients track and recover them.
describe('room messages published by a connection', { timeout: 30_000 }, () => {
	const Say = ClientMessage.define<{ n: number }>('say');

	it('a broadcast to a room is recovered exactly once after a drop', async () => {
		const running = await startSocketServer({
			engine: new MemoryEngine({ history: { size: 10_000 } }),
			// The sender speaks for a whole stream: no inbound rate limit.
			routes: [{ path: '/ws', origins: 'any', rateLimit: false }]
		});
		running.sockets.on(Say, async (connection, data, reply) => {
			await connection.broadcast({ name: 'seq', data, timestamp: Date.now() }, { rooms: [ROOM] });
			reply();
		});
		const sender = makeClient(running.url());
		sender.connect();
		await reachState(sender, 'connected');

		const gate = new Gate();
		const client = makeClient(() => gate.pass(() => running.url()), RECONNECT);
		const ids = connectionIds(client);
		const view = watch(client);
		client.joinRoom(ROOM);
		client.connect();
		await view.joined();

		const publisher = new Publisher((n) => sender.request(Say, { n }), 2);
		await view.receivedAtLeast(100);
		const disconnected = keepAway(gate, client, running, ids);
		await disconnected;
		await publisher.reach(publisher.sent.length + 50);
		const reconnected = nextEvent(client, Connected, 20_000);
		gate.open();
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		await publisher.reach(publisher.sent.length + 100);
		await publisher.stop();
		await running.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		await view.fenced(1);

		const result = report('broadcast', publisher.numbers, view.received);
		expect(publisher.failed).toEqual([]);
		expect(result.lost.length, `lost ${few(result.lost)}`).toBe(0);
		expect(result.duplicated.length, `duplicated ${few(result.duplicated)}`).toBe(0);
		expect(result.ordered).toBe(true);
	});
});

// A rejoin whose history the engine cannot read (e.g. Redis is down at that moment): the client
// stays in the room, is told it is unrecoverable, and the room's live messages go on.
describe('a rejoin the engine cannot answer', { timeout: 30_000 }, () => {
	class FlakyEngine extends MemoryEngine {
		failing = false;
		override history(room: string, since?: StreamPosition): Promise<HistoryResult> {
			if (this.failing) return Promise.reject(new Error('engine unavailable'));
			return super.history(room, since);
		}
	}

	it('keeps the member in the room, says it is unrecoverable, and the stream goes on', async () => {
		vi.spyOn(console, 'error').mockImplementation(() => {}); // the server reports the failed join
		const engine = new FlakyEngine({ history: { size: 10_000 } });
		const running = await startServer(engine);
		const { gate, client, view } = await joinedClient(() => running.url());
		for (let n = 1; n <= 10; n++) await seq(running)(n);
		await view.receivedAtLeast(10);

		const disconnected = keepAway(gate, client, running);
		await disconnected;
		engine.failing = true;
		const unrecoverable = nextEvent(client, Unrecoverable, 20_000);
		const reconnected = nextEvent(client, Connected, 20_000);
		gate.open();
		expect(await unrecoverable).toEqual({ room: ROOM });
		expect(await reconnected).toEqual({ reconnected: true, recovered: false });
		expect(client.joinedRooms.has(ROOM)).toBe(true);
		engine.failing = false;

		for (let n = 11; n <= 20; n++) await seq(running)(n);
		await running.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		const fenced = await view.fenced(1, 5_000).then(
			() => true,
			() => false
		);
		const published = Array.from({ length: 20 }, (_, index) => index + 1);
		const result = report('rejoin-unavailable', published, view.received);
		expect(fenced, 'the room went silent after the unanswerable rejoin').toBe(true);
		expect(result.duplicated.length, `duplicated ${few(result.duplicated)}`).toBe(0);
		// Replayed from where it was, or, failing that, told the room is unrecoverable.
		expect(view.unrecoverable.length ? [] : result.lost).toEqual([]);
	});
});
