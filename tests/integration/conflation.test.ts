// Latest-value conflation on real sockets: a reader whose TCP socket stops reading while keyed and
// unkeyed messages flow into its room falls behind instead of being closed, and ends with every
// unkeyed message and the newest value per key, at the room's position, without an Unrecoverable;
// a reader that keeps up in the same room gets every message.
import { describe, expect, it } from 'vitest';
import { Connected, Disconnected } from '../../src/lib/index.js';
import { makeClient, errorsOf } from '../kit/clients.js';
import { Log, State, expectConflatedStream, logRoom, tcpOf } from '../kit/conflation.js';
import { serve } from '../kit/limits.js';
import { nextEvent, reachState } from '../kit/wait.js';

const ROOM = 'board';
const KEYS = 50;
/** One message in this many is unkeyed. */
const UNKEYED_EVERY = 20;
/** Messages published per event-loop turn: the server flushes between turns. */
const PER_TURN = 100;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('a reader that stops reading, in a room of keyed and unkeyed messages', () => {
	it('falls behind, is never closed, and ends with every unkeyed message and the newest per key', async () => {
		const server = await serve();
		const { sockets } = server;
		const route = '/ws';
		const pad = 'p'.repeat(200);

		const paused = makeClient(server.url(), { heartbeatInterval: 0 });
		const control = makeClient(server.url(), { heartbeatInterval: 0 });
		const pausedLog = logRoom(paused, ROOM);
		const controlLog = logRoom(control, ROOM);
		const disconnects: unknown[] = [];
		paused.on(Disconnected, (event) => disconnects.push(event));
		control.on(Disconnected, (event) => disconnects.push(event));
		for (const client of [paused, control]) {
			client.joinRoom(ROOM);
			client.connect();
		}
		await Promise.all([pausedLog.answered(1), controlLog.answered(1)]);
		await reachState(paused, 'connected');

		const tcp = tcpOf(paused.socket);
		tcp.pause();
		const conflated = () => sockets.metricsSnapshot().messagesConflated[route] ?? 0;

		// Publish until the paused reader's queue has conflated for a while: its kernel buffers are
		// full by then (the first conflation needs them full), and everything after piles up here.
		let n = 0;
		let unkeyed = 0;
		const lastOfKey = new Map<string, number>();
		let conflatedAtFirst = 0;
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
			if (!conflatedAtFirst) conflatedAtFirst = conflated() && n;
			else if (n >= conflatedAtFirst + 10_000) break;
		}
		expect(conflatedAtFirst, 'the paused reader never fell behind').toBeGreaterThan(0);
		const { offset: end, epoch } = await sockets.position(ROOM);
		expect(end).toBe(n);

		await controlLog.reaches(end, 'the control reader to get everything', 20_000);
		expect(controlLog.messages.map((message) => message.offset)).toEqual(
			Array.from({ length: end }, (_, index) => index + 1)
		);

		tcp.resume();
		await pausedLog.reaches(end, 'the paused reader to catch up', 20_000);

		const skipped = expectConflatedStream(pausedLog.messages, controlLog.messages);
		const gotUnkeyed = pausedLog.messages.filter((message) => message.name == 'log');
		expect(gotUnkeyed.map((message) => message.n)).toEqual(
			Array.from({ length: unkeyed }, (_, index) => index)
		);
		const newest = new Map<string, number>();
		for (const message of pausedLog.messages) if (message.key) newest.set(message.key, message.n);
		expect(newest).toEqual(lastOfKey);
		expect(skipped).toBeGreaterThan(0);
		expect(conflated()).toBe(skipped);
		expect(pausedLog.last).toBe(end);
		expect(pausedLog.unrecoverable).toEqual([]);
		expect(controlLog.unrecoverable).toEqual([]);
		expect(disconnects).toEqual([]);
		expect(errorsOf(paused)).toEqual([]);
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
			`[conflation] ${n} published (${unkeyed} unkeyed) over ${KEYS} keys; the paused reader ` +
				`fell behind after ${conflatedAtFirst}, got ${pausedLog.messages.length}, ${skipped} conflated`
		);
	});
});
