// Latest-value conflation on real sockets: readers whose TCP sockets stop reading while keyed and
// unkeyed messages flow into their room fall behind instead of being closed — a SocketClient (it
// reports what it reads, so the server holds back what it has not read) and a plain `ws` client
// (no reports: the kernel's buffers fill, then the socket pushes back) — and each ends with every
// unkeyed message and the newest value per key, offsets increasing; the SocketClient at the room's
// position without an Unrecoverable. A reader that keeps up in the same room gets every message.
import { describe, expect, it } from 'vitest';
import { Connected, Disconnected } from '../../src/lib/index.js';
import { makeClient, errorsOf } from '../kit/clients.js';
import {
	Log,
	State,
	expectConflatedStream,
	logRoom,
	seenInFrame,
	tcpOf,
	type Seen
} from '../kit/conflation.js';
import { connectionOf, Peer, serve } from '../kit/limits.js';
import { nextEvent, reachState } from '../kit/wait.js';

const ROOM = 'board';
const KEYS = 50;
/** One message in this many is unkeyed. */
const UNKEYED_EVERY = 20;
/** Messages published per event-loop turn: the server flushes between turns. */
const PER_TURN = 100;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** The room deliveries among a raw peer's frames. */
const deliveries = (peer: Peer): Seen[] =>
	peer.frames.items.map(seenInFrame).filter((seen) => seen !== undefined);

/** Resolves once the newest frame `peer` got is the room delivery at `offset`. */
function reaches(peer: Peer, offset: number, what: string): Promise<true> {
	// The newest frame only: checking every frame on every arrival would be quadratic.
	return peer.frames.until(
		() => {
			const last = peer.frames.items.at(-1);
			return last !== undefined && seenInFrame(last)?.offset == offset ? true : undefined;
		},
		what,
		20_000
	);
}

describe('readers that stop reading, in a room of keyed and unkeyed messages', () => {
	it('fall behind, are never closed, and end with every unkeyed message and the newest per key', async () => {
		const server = await serve();
		const { sockets } = server;
		const pad = 'p'.repeat(200);

		const paused = makeClient(server.url(), { heartbeatInterval: 0 });
		const pausedLog = logRoom(paused, ROOM);
		const disconnects: unknown[] = [];
		paused.on(Disconnected, (event) => disconnects.push(event));
		paused.joinRoom(ROOM);
		paused.connect();
		const silent = await Peer.open(server.url());
		const control = await Peer.open(server.url());
		await Promise.all([pausedLog.answered(1), silent.join(ROOM), control.join(ROOM)]);
		await reachState(paused, 'connected');
		const silentConnection = connectionOf(server, silent.id);

		tcpOf(paused.socket).pause();
		tcpOf(silent.ws).pause();
		const conflated = () => sockets.metricsSnapshot().messagesConflated['/ws'] ?? 0;

		// Publish until the silent peer's kernel buffers are full (the server's socket buffer holds
		// what they did not take after a turn's write), then 10,000 more, which pile up in the backlogs.
		let n = 0;
		let unkeyed = 0;
		const lastOfKey = new Map<string, number>();
		let fullAfter = 0;
		while (n < 200_000) {
			for (let index = 0; index < PER_TURN; index++, n++) {
				if (n % UNKEYED_EVERY == 0) {
					await sockets.publish(Log, { n: unkeyed++, pad }, { room: ROOM });
				} else {
					const key = `m${n % KEYS}`;
					lastOfKey.set(key, n);
					await sockets.publish(State, { key, n, pad }, { room: ROOM });
				}
			}
			await nextTurn();
			if (!fullAfter) fullAfter = silentConnection.bufferedBytes && n;
			else if (n >= fullAfter + 10_000) break;
		}
		expect(fullAfter, "the silent peer's kernel buffers never filled").toBeGreaterThan(0);
		const { offset: end, epoch } = await sockets.position(ROOM);
		expect(end).toBe(n);

		await reaches(control, end, 'the control reader to get everything');
		const all = deliveries(control);
		expect(all.map((message) => message.offset)).toEqual(
			Array.from({ length: end }, (_, index) => index + 1)
		);
		const conflatedWhilePaused = conflated();

		tcpOf(paused.socket).resume();
		tcpOf(silent.ws).resume();
		await pausedLog.reaches(end, 'the paused SocketClient to catch up', 20_000);
		await reaches(silent, end, 'the silent peer to catch up');

		const silentSkipped = expectConflatedStream(deliveries(silent), all);
		const pausedSkipped = expectConflatedStream(pausedLog.messages, all);
		for (const got of [pausedLog.messages, deliveries(silent)]) {
			const logs = got.filter((message) => message.name == 'log');
			expect(logs.map((message) => message.n)).toEqual(
				Array.from({ length: unkeyed }, (_, index) => index)
			);
			const newest = new Map<string, number>();
			for (const message of got) if (message.key) newest.set(message.key, message.n);
			expect(newest).toEqual(lastOfKey);
		}
		expect(silentSkipped).toBeGreaterThan(0);
		expect(pausedSkipped).toBeGreaterThan(0);
		expect(conflated()).toBe(silentSkipped + pausedSkipped);
		expect(conflatedWhilePaused).toBeGreaterThan(0);
		expect(pausedLog.last).toBe(end);
		expect(pausedLog.unrecoverable).toEqual([]);
		expect(disconnects).toEqual([]);
		expect(errorsOf(paused)).toEqual([]);
		expect(silent.isOpen && control.isOpen).toBe(true);
		expect(sockets.metricsSnapshot().slowConsumerCloses).toBe(0);

		// The client's own position is the room's: a reconnect rejoins from it and gets nothing again.
		const reconnected = nextEvent(paused, Connected, 10_000);
		const from = pausedLog.messages.length;
		paused.disconnect();
		paused.connect();
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		expect(pausedLog.answers.at(-1)).toEqual({ room: ROOM, offset: end, epoch, recovered: true });
		expect(pausedLog.messages.length).toBe(from);
		console.info(
			`[conflation] ${n} published (${unkeyed} unkeyed) over ${KEYS} keys; the silent peer's ` +
				`kernel buffers full after ${fullAfter}; conflated: the SocketClient ${pausedSkipped}, ` +
				`the silent peer ${silentSkipped}`
		);
	});
});
