// Read reports (PROTOCOL.md, "Read reports"): a client that reports what it read is sent a window
// ahead of it, and what waits beyond the window is conflated in the server, not in kernel buffers.
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { ClientMessage, type SocketClient } from '../../src/lib/index.js';
import { makeClient } from '../kit/clients.js';
import { errorData, Peer, serve, connectionOf } from '../kit/limits.js';
import { until, within } from '../kit/wait.js';

const State = ClientMessage.define<{ key: number; n: number }>('state', {
	conflationKey: (state) => state.key
});
const Note = ClientMessage.define<{ n: number }>('note');

const KEYS = 10;
/** Small keyed messages: all of them fit in the kernel's buffers, so only the window holds any back. */
const PUBLISHED = 3_000;

/** The TCP socket under a client's `ws` socket, to stop reading from it for real. */
function tcpOf(client: SocketClient): Socket {
	return (client.socket as unknown as WebSocket & { _socket: Socket })._socket;
}

async function publishStates(sockets: Awaited<ReturnType<typeof serve>>['sockets']): Promise<void> {
	for (let n = 1; n <= PUBLISHED; n++) {
		await sockets.publish(State, { key: n % KEYS, n }, { room: 'r' });
	}
}

describe('read reports', () => {
	it('a SocketClient that stops reading gets a window of frames; the rest is conflated in the server', async () => {
		const server = await serve();
		const client = makeClient(server.url());
		const newest = new Map<number, number>();
		let received = 0;
		client.on(State, ({ key, n }) => {
			received++;
			newest.set(key, n);
		});
		const joined = new Promise<void>((resolve) => client.on(Note, () => resolve()));
		client.joinRoom('r');
		client.connect();
		await until(() => server.sockets.connections.size == 1, 'the connection');
		await until(
			() => connectionOf(server, [...server.sockets.connections][0].id).joinedRooms.has('r'),
			'the join'
		);
		await server.sockets.publish(Note, { n: 0 }, { room: 'r' });
		await within(joined, 'the first message');

		tcpOf(client).pause();
		await publishStates(server.sockets);
		const conflated = () => server.sockets.metricsSnapshot().messagesConflated['/ws'] ?? 0;
		// Without the window every one of them would have gone to the kernel (see the control below).
		await until(
			() => conflated() > PUBLISHED - KEYS - 1_024,
			'the states beyond the window conflated'
		);

		tcpOf(client).resume();
		await until(
			() =>
				[...Array(KEYS).keys()].every(
					(key) => newest.get(key) == PUBLISHED - ((PUBLISHED - key) % KEYS)
				),
			'the newest state of every key'
		);
		expect(received).toBe(PUBLISHED - conflated());
		expect(received).toBeLessThan(1_024 + KEYS);
	});

	it('a client that never reports is sent everything the kernel takes, as before', async () => {
		const server = await serve();
		const peer = await Peer.open(server.url());
		await peer.join('r');
		(peer.ws as unknown as { _socket: Socket })._socket.pause();
		await publishStates(server.sockets);
		(peer.ws as unknown as { _socket: Socket })._socket.resume();
		await peer.frames.waitFor((frame) => frame.includes(`"n":${PUBLISHED}}`), 'the last state');
		expect(peer.envelopes.filter((message) => message.name == 'state')).toHaveLength(PUBLISHED);
		expect(server.sockets.metricsSnapshot().messagesConflated['/ws'] ?? 0).toBe(0);
	});

	it('a burst of many windows that cannot be conflated reaches a reporting reader whole, in order', async () => {
		const server = await serve();
		const client = makeClient(server.url());
		const notes: number[] = [];
		client.on(Note, ({ n }) => notes.push(n));
		client.joinRoom('r');
		client.connect();
		await until(
			() => [...server.sockets.connections].some((connection) => connection.joinedRooms.has('r')),
			'the join'
		);
		// 4,000 messages in one turn: 8 windows of the first, and about 600 KB (under maxBufferedBytes).
		const burst = Array.from({ length: 4_000 }, (_, n) =>
			server.sockets.publish(Note, { n, pad: 'x'.repeat(100) } as { n: number }, { room: 'r' })
		);
		await Promise.all(burst);
		await until(() => notes.length == 4_000, 'every message of the burst', { ms: 10_000 });
		expect(notes).toEqual([...notes.keys()]);
		expect(server.sockets.metricsSnapshot().slowConsumerCloses).toBe(0);
	});

	it('answers a malformed read report as malformed and stays open; a count beyond what was sent is all of it', async () => {
		const server = await serve();
		const peer = await Peer.open(server.url());
		for (const frame of ['4:', '4:x', '4:-1', '4:1.5', '4:12345678901234567']) {
			const from = peer.frames.items.length;
			peer.send(frame);
			const error = await peer.envelope(
				(message) => message.name == 'error',
				`the answer to ${frame}`,
				5_000,
				from
			);
			expect(errorData(error).code).toBe('malformed');
		}
		// It never reports again: it gets a window of frames from what the server had written, no more.
		peer.send('4:999999999');
		await peer.join('r');
		await publishStates(server.sockets);
		const conflated = () => server.sockets.metricsSnapshot().messagesConflated['/ws'] ?? 0;
		await until(() => conflated() > 0, 'the states beyond the window conflated');
		expect(peer.isOpen).toBe(true);
	});
});
