// @vitest-environment jsdom
// Issue 21 in the page: messages wait for the flush, and a keyed room message that a later waiting
// one of the same room, name and key supersedes is neither validated nor shown.
import { describe, expect, it, vi } from 'vitest';
import { ClientMessage, SocketError, Unrecoverable } from '../../../src/lib/index.js';
import type { LiveSocket } from '../../../src/lib/svelte/index.js';
import { nextEvent } from '../../kit/wait.js';
import { countedSchema, RoomDeliveries, type Reading } from '../../kit/svelte/conflation.js';
import { arrival, connectedLive, watch } from '../../kit/svelte/live.svelte.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

/** The feeds of one definition a test watches: each publish of them is in `seen`. */
function feedsOf(socket: LiveSocket, definition: ReturnType<typeof defineReading>['Reading']) {
	const latest = socket.latest(definition);
	const stream = socket.stream(definition, { limit: 100 });
	const collection = socket.collection(definition, { key: (reading) => reading.key });
	const { seen } = watch(() => ({
		latest: latest.current,
		stream: stream.current,
		collection: collection.values
	}));
	return { latest, stream, collection, seen };
}

/** A keyed definition named `name` whose schema counts what it validates. */
function defineReading(name = 'reading', slow?: ReadonlySet<number>) {
	const counted = countedSchema(slow);
	const Reading = ClientMessage.define(name, counted.schema, {
		conflationKey: (reading) => reading.key
	});
	return { Reading, ...counted };
}

/** Waits until the client received `count` more messages, sent by `send`. */
async function received(socket: LiveSocket, count: number, send: () => void): Promise<void> {
	const arrived = arrival(socket.client, count);
	send();
	await arrived;
}

const k = (key: string, v: number | string): Reading => ({ key, v });
const unkeyed = (v: number | string): Reading => ({ v });

describe('LiveSocket: superseded keyed messages in the page', () => {
	it('skips a keyed message a later waiting one supersedes: never validated, never shown', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated } = defineReading();
		const { latest, stream, collection, seen } = feedsOf(socket, Reading);
		const room = new RoomDeliveries(peer);
		await received(socket, 6, () => {
			room.send('reading', 'a', k('m1', 1));
			room.send('reading', 'a', k('m2', 1));
			room.send('reading', 'a', k('m1', 2));
			room.send('reading', 'a', unkeyed(3));
			room.send('reading', 'a', k('m1', 4));
			room.send('reading', 'a', k('m2', 5));
		});
		expect(validated).toEqual([]); // nothing before the flush
		frames.run();
		// Once each, although three feeds follow the definition: the survivors, in arrival order.
		expect(validated).toEqual([unkeyed(3), k('m1', 4), k('m2', 5)]);
		expect(stream.current).toEqual([k('m2', 5), k('m1', 4), unkeyed(3)]);
		expect(latest.current).toEqual(k('m2', 5));
		// The collection keyed by the conflation key gets it for free: the newest per key.
		expect(collection.values).toEqual([unkeyed(3), k('m1', 4), k('m2', 5)]);
		expect(seen).toHaveLength(2); // one publish for all of it, in the same flush
		expect(frames.pending).toBe(0);
	});

	it('never skips unkeyed messages, nor across rooms or names: each room, name and key is its own', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated } = defineReading();
		const other = defineReading('reading.other');
		const inA = socket.stream(Reading, { room: 'a', limit: 100 });
		const inB = socket.stream(Reading, { room: 'b', limit: 100 });
		const others = socket.stream(other.Reading, { limit: 100 });
		watch(() => [inA.current, inB.current, others.current]);
		const rooms = new RoomDeliveries(peer);
		await received(socket, 7, () => {
			rooms.send('reading', 'a', unkeyed(1));
			rooms.send('reading', 'a', k('m', 2));
			rooms.send('reading', 'b', k('m', 3));
			rooms.send('reading.other', 'a', k('m', 4));
			rooms.send('reading', 'a', unkeyed(1));
			rooms.send('reading', 'b', k('n', 5));
			rooms.send('reading.other', 'a', unkeyed(6));
		});
		frames.run();
		expect(inA.current).toEqual([unkeyed(1), k('m', 2), unkeyed(1)]);
		expect(inB.current).toEqual([k('n', 5), k('m', 3)]);
		expect(others.current).toEqual([unkeyed(6), k('m', 4)]);
		expect(validated).toHaveLength(5);
		expect(other.validated).toHaveLength(2);
	});

	it('supersedes only within what waits for one flush: each flush shows its newest', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated } = defineReading();
		const stream = socket.stream(Reading, { limit: 100 });
		watch(() => stream.current);
		const room = new RoomDeliveries(peer);
		await received(socket, 2, () => {
			room.send('reading', 'a', k('m', 1));
			room.send('reading', 'a', k('m', 2));
		});
		frames.run();
		await received(socket, 1, () => room.send('reading', 'a', k('m', 3)));
		frames.run();
		expect(stream.current).toEqual([k('m', 3), k('m', 2)]);
		expect(validated).toEqual([k('m', 2), k('m', 3)]);
	});

	it('reports a refused survivor once, as the client reports its own; a superseded one not at all', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading } = defineReading();
		const stream = socket.stream(Reading);
		const latest = socket.latest(Reading);
		watch(() => [stream.current, latest.current]);
		const errors: SocketError[] = [];
		socket.client.onError((error) => errors.push(error));
		const room = new RoomDeliveries(peer);
		await received(socket, 3, () => {
			room.send('reading', 'a', k('m', 'superseded and invalid'));
			room.send('reading', 'a', k('m', 'invalid'));
			room.send('reading', 'a', k('n', 1));
		});
		frames.run();
		expect(errors).toHaveLength(1);
		const [error] = errors;
		expect(error).toBeInstanceOf(SocketError);
		expect(error.kind).toBe('validation');
		expect(error.message).toBe('Invalid "reading": v must be a number');
		expect(error.detail).toMatchObject({
			message: { name: 'reading', room: 'a', conflationKey: 'm', data: k('m', 'invalid') },
			issues: [{ message: 'v must be a number' }]
		});
		expect(socket.error).toBe(error);
		expect(stream.current).toEqual([k('n', 1)]);
	});

	it('reports a schema that throws, or rejects, as a refusal', async () => {
		const { socket, frames, peer } = await connectedLive();
		const Throws = ClientMessage.define('throws', {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: () => {
					throw new Error('schema bug');
				}
			}
		});
		const Rejects = ClientMessage.define('rejects', {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: () => Promise.reject(new Error('schema bug, later'))
			}
		});
		const throwing = socket.latest(Throws);
		const rejecting = socket.latest(Rejects);
		watch(() => [throwing.current, rejecting.current]);
		const errors: string[] = [];
		socket.client.onError((error) => errors.push(`${error.kind}: ${error.message}`));
		await received(socket, 2, () => {
			peer.deliver('throws', 1);
			peer.deliver('rejects', 2);
		});
		frames.run();
		expect(errors).toEqual(['validation: Invalid "throws": Error: schema bug']);
		await vi.waitFor(() => expect(frames.pending).toBe(1)); // the rejection's answer came
		frames.run();
		expect(errors).toEqual([
			'validation: Invalid "throws": Error: schema bug',
			'validation: Invalid "rejects": Error: schema bug, later'
		]);
		expect([throwing.current, rejecting.current]).toEqual([undefined, undefined]);
	});
});

describe('LiveSocket: order behind an async schema', () => {
	it('hands on what waits behind an async answer after it, at the flush after the answer', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated, release, answered } = defineReading('reading', new Set([1]));
		const { stream, seen } = feedsOf(socket, Reading);
		const room = new RoomDeliveries(peer);
		await received(socket, 3, () => {
			room.send('reading', 'a', unkeyed(1)); // slow
			room.send('reading', 'a', unkeyed(2));
			room.send('reading', 'a', k('m', 3));
		});
		frames.run();
		expect(validated).toEqual([unkeyed(1)]); // the rest waits behind its answer
		expect(stream.current).toEqual([]);
		// Arriving while the answer is awaited, it supersedes a message still waiting.
		await received(socket, 1, () => room.send('reading', 'a', k('m', 4)));
		frames.run();
		expect(validated).toEqual([unkeyed(1)]);

		release();
		await answered();
		expect(frames.pending).toBe(1); // the answer asked for a flush
		frames.run();
		expect(validated).toEqual([unkeyed(1), unkeyed(2), k('m', 4)]);
		expect(stream.current).toEqual([k('m', 4), unkeyed(2), unkeyed(1)]);
		expect(seen.map((shown) => shown.stream.length)).toEqual([0, 3]);
	});

	it('stops waiting for the answer of a message a newer one of its key supersedes meanwhile', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated, release, answered } = defineReading('reading', new Set([1]));
		const { stream } = feedsOf(socket, Reading);
		const room = new RoomDeliveries(peer);
		await received(socket, 2, () => {
			room.send('reading', 'a', k('m', 1)); // slow
			room.send('reading', 'a', unkeyed(2));
		});
		frames.run();
		expect(stream.current).toEqual([]);
		await received(socket, 1, () => room.send('reading', 'a', k('m', 3)));
		frames.run(); // no answer yet, but no need for one
		expect(validated).toEqual([k('m', 1), unkeyed(2), k('m', 3)]);
		expect(stream.current).toEqual([k('m', 3), unkeyed(2)]);
		release();
		await answered();
		expect(frames.pending).toBe(0); // the late answer asks for nothing
		expect(stream.current).toEqual([k('m', 3), unkeyed(2)]);
	});

	it('dispose() while an answer is awaited: nothing reaches a feed, and no flush is asked for', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated, release, answered } = defineReading('reading', new Set([1]));
		const { seen } = feedsOf(socket, Reading);
		const room = new RoomDeliveries(peer);
		await received(socket, 2, () => {
			room.send('reading', 'a', unkeyed(1));
			room.send('reading', 'a', unkeyed(2));
		});
		frames.run();
		socket.dispose();
		release();
		await answered();
		expect(frames.pending).toBe(0);
		expect(validated).toEqual([unkeyed(1)]);
		expect(seen).toEqual([{ latest: undefined, stream: [], collection: [] }]);
	});

	it('dispose() by a feed during the flush: no later message is handed on, nothing is published', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated } = defineReading();
		const collection = socket.collection(Reading, {
			key: (reading) => {
				if (reading.v == 2) socket.dispose();
				return reading.key;
			}
		});
		const stream = socket.stream(Reading);
		const { seen } = watch(() => [collection.values, stream.current]);
		const room = new RoomDeliveries(peer);
		await received(socket, 3, () => {
			room.send('reading', 'a', k('m', 1));
			room.send('reading', 'a', k('n', 2));
			room.send('reading', 'a', k('o', 3));
		});
		vi.spyOn(console, 'warn').mockImplementation(() => {});
		frames.run();
		expect(validated).toEqual([k('m', 1), k('n', 2)]);
		expect(seen).toEqual([[[], []]]);
	});
});

describe('LiveSocket: resets in order with the messages', () => {
	it('hands on the messages before an unrecoverable answer, resets, then hands on those after it', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading } = defineReading();
		socket.joinRoom('a');
		const { latest, stream, collection } = feedsOf(socket, Reading);
		const room = new RoomDeliveries(peer);
		await received(socket, 2, () => {
			room.send('reading', 'a', k('m', 1));
			room.send('reading', 'a', unkeyed(2));
		});
		const unrecoverable = nextEvent(socket.client, Unrecoverable);
		await received(socket, 2, () => {
			peer.deliver('room.joined', { room: 'a', offset: 40, epoch: 'e2', recovered: false });
			room.restart('a', 40, 'e2');
			room.send('reading', 'a', k('n', 3));
		});
		await unrecoverable;
		frames.run();
		expect(stream.current).toEqual([k('n', 3)]);
		expect(latest.current).toEqual(k('n', 3));
		expect(collection.values).toEqual([k('n', 3)]);
	});

	it('a keyed message before the reset that one after it supersedes is skipped', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, validated } = defineReading();
		socket.joinRoom('a');
		const stream = socket.stream(Reading, { room: 'a', keepWhenUnrecoverable: true });
		watch(() => stream.current);
		const room = new RoomDeliveries(peer);
		await received(socket, 3, () => {
			room.send('reading', 'a', k('m', 1));
			peer.deliver('room.joined', { room: 'a', offset: 40, epoch: 'e2', recovered: false });
			room.restart('a', 40, 'e2');
			room.send('reading', 'a', k('m', 2));
		});
		frames.run();
		expect(validated).toEqual([k('m', 2)]);
		expect(stream.current).toEqual([k('m', 2)]);
	});

	it('a reset waits behind an async answer too', async () => {
		const { socket, frames, peer } = await connectedLive();
		const { Reading, release, answered } = defineReading('reading', new Set([1]));
		socket.joinRoom('a');
		const stream = socket.stream(Reading, { room: 'a' });
		watch(() => stream.current);
		const room = new RoomDeliveries(peer);
		await received(socket, 1, () => room.send('reading', 'a', unkeyed(1)));
		frames.run(); // its schema now runs
		await received(socket, 2, () => {
			peer.deliver('room.joined', { room: 'a', offset: 40, epoch: 'e2', recovered: false });
			room.restart('a', 40, 'e2');
			room.send('reading', 'a', unkeyed(2));
		});
		frames.run();
		expect(stream.current).toEqual([]);
		release();
		await answered();
		frames.run();
		expect(stream.current).toEqual([unkeyed(2)]);
	});
});
