// The numbered defects of issue 8 that live in the server's own code, one test (or more) each. Every
// test here failed against the server before its fix; the fuzzing, floods and faults that look for
// more of each class live in tests/integration/hardening/.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { z } from 'zod';
import { createSocketServer, type RouteOptions } from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import { ROUTE_DEFAULTS } from '../../src/lib/server/options.js';
import { attemptUpgrade, connectRaw, deferred, refusedUpgrade } from '../kit/peers/ws-peer.js';
import type { Envelope } from '../kit/envelope.js';
import {
	destroyRawClients,
	encodeFrame,
	EventLog,
	Opcode,
	RawClient
} from '../kit/peers/raw-frames.js';
import type { StandardSchema } from '../../src/lib/protocol/standard-schema.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { within } from '../kit/wait.js';

afterEach(() => destroyRawClients());

function errorOf(message: Envelope): { code: string; message: string; room?: string } {
	expect(message.name).toBe('error');
	return message.data as { code: string; message: string; room?: string };
}

/** A route with any origin and whatever the test adds. */
function route(options: Partial<RouteOptions> = {}): RouteOptions {
	return { path: '/ws', origins: 'any', ...options };
}

describe('defect 1: user callbacks that throw or reject', () => {
	it('answers internal_error when a schema throws during validation, reports it, and keeps serving', async () => {
		const errors: string[] = [];
		const server = await startSocketServer({
			routes: [route({ onError: (_connection, error) => errors.push(error.message) })]
		});
		// A zod transform that parses JSON throws a SyntaxError on bad input: before the fix, an
		// unhandled rejection that ended the process.
		const Parsed = ClientMessage.define(
			'parsed',
			z.string().transform((text) => JSON.parse(text) as unknown)
		);
		// Any Standard Schema may reject asynchronously (zod's own async refinements are not used here:
		// zod 4.6 itself leaves an unhandled rejection behind when one throws, see SECURITY.md).
		const rejecting: StandardSchema<unknown, string> = {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: () => Promise.reject(new Error('validation backend down'))
			}
		};
		const AsyncBroken = ClientMessage.define('async.broken', rejecting);
		server.sockets.on(Parsed, (_connection, data, reply) => reply(data));
		server.sockets.on(AsyncBroken, (_connection, _data, reply) => reply('never'));
		const client = await connectRaw(server.url());
		await client.nextMessage('connected');
		client.send({ name: 'parsed', data: '{not json', id: 1 });
		client.send({ name: 'async.broken', data: 'x', id: 2 });
		client.send({ name: 'parsed', data: '{"ok":true}', id: 3 });
		const [first, second, third] = await client.waitForMessages(4).then((all) => all.slice(1));
		expect([first.id, errorOf(first).code]).toEqual([1, 'internal_error']);
		expect([second.id, errorOf(second).code]).toEqual([2, 'internal_error']);
		expect(third).toMatchObject({ name: 'reply', id: 3, data: { ok: true } });
		expect(errors).toHaveLength(2);
	});

	it('contains onConnect, onMessage, onClose and onError that throw or reject', async () => {
		// onError itself throwing leaves only the log: keep it out of the test output, and check it.
		const logged = vi.spyOn(console, 'error').mockImplementation(() => {});
		const closed = deferred();
		const server = await startSocketServer({
			routes: [
				route({
					onConnect: () => Promise.reject(new Error('onConnect rejected')),
					onMessage: () => {
						throw new Error('onMessage threw');
					},
					onClose: () => {
						closed.resolve();
						throw new Error('onClose threw');
					},
					onError: () => {
						throw new Error('onError threw too');
					}
				})
			]
		});
		const client = await connectRaw(server.url());
		await client.nextMessage('connected');
		client.send({ name: 'anything', data: 1 });
		await client.roundTrip();
		client.socket.close();
		await within(closed.promise, 'onClose');
		const again = await connectRaw(server.url());
		await again.nextMessage('connected');
		await server.stop();
		expect(logged.mock.calls.map(([, error]) => (error as Error).message)).toContain(
			'onError threw too'
		);
		logged.mockRestore();
	});

	it('answers internal_error to a join whose authorizeJoin never answers, after 5 s, and keeps the connection', async () => {
		const errors: string[] = [];
		const server = await startSocketServer({
			routes: [
				route({
					authorizeJoin: (_connection, room) => (room == 'hangs' ? new Promise(() => {}) : true),
					onError: (_connection, error) => errors.push(error.message)
				})
			]
		});
		const client = await connectRaw(server.url());
		await client.nextMessage('connected');
		client.send({ name: 'room.join', data: { room: 'hangs' }, id: 1 });
		const refusal = await client.nextMessage('error', 8_000);
		expect(errorOf(refusal)).toMatchObject({ code: 'internal_error', room: 'hangs' });
		expect(errors).toEqual(['authorizeJoin did not answer within 5000 ms']);
		client.send({ name: 'room.join', data: { room: 'fine' }, id: 2 });
		expect((await client.nextMessage('room.joined')).id).toBe(2);
	}, 12_000);
});

describe('defect 2: close reasons longer than a close frame holds', () => {
	it.each([
		['ASCII', 'x'.repeat(500), 123],
		['two-byte characters', 'é'.repeat(100), 122],
		['emoji', '🔥'.repeat(40), 120]
	])(
		'cuts a %s refusal reason to at most 123 bytes instead of crashing',
		async (_kind, reason, bytes) => {
			const server = await startSocketServer({
				routes: [route({ firstMessageAuth: { verify: () => ({ success: false, reason }) } })]
			});
			const client = await connectRaw(server.url());
			client.send('token');
			const closed = await client.closedWithin();
			expect(closed.code).toBe(4001);
			expect(Buffer.byteLength(closed.reason)).toBe(bytes);
			expect(reason.startsWith(closed.reason)).toBe(true);
			// The process is alive and serving.
			const next = await connectRaw(server.url());
			next.send('token');
			expect((await next.closedWithin()).code).toBe(4001);
		}
	);
});

describe('defect 5: the pending-auth slot', () => {
	it('is freed when 4002 is decided, not when a silent peer finally lets go of its socket', async () => {
		const server = await startSocketServer({
			routes: [
				route({
					firstMessageAuth: {
						verify: () => ({ success: true, data: null }),
						timeout: 100,
						maxPending: 2
					}
				})
			]
		});
		// Two peers that never send a token and never answer the close frame (raw TCP clients).
		const silent = await Promise.all([
			RawClient.connect(server.port),
			RawClient.connect(server.port)
		]);
		const third = await RawClient.connect(server.port);
		expect(await third.waitForClose()).toEqual({
			code: 4003,
			reason: 'Too many pending connections'
		});
		for (const peer of silent) {
			expect(await peer.waitForClose()).toEqual({ code: 4002, reason: 'Authentication timeout' });
		}
		// Their TCP connections are still open, waiting for a close handshake that never comes; their
		// slots were freed the moment 4002 was decided.
		expect(silent.some((peer) => peer.isClosed)).toBe(false);
		const fourth = await RawClient.connect(server.port);
		expect(fourth.status).toBe(101);
		fourth.send(Opcode.Text, 'token');
		await fourth.waitForText((text) => text.includes('"connected"'), 'connected');
		// And the silent peers are dropped within 3 s of their close, not ws's 30 s.
		await within(
			Promise.all(silent.map((peer) => peer.ended)),
			'the silent peers to be dropped',
			5_000
		);
	}, 10_000);
});

describe('defect 6: upgrades to paths no route serves', () => {
	it('answers them 404 at once when the socket server is the only upgrade listener', async () => {
		const server = await startSocketServer({ routes: [route()] });
		expect((await refusedUpgrade(server.url('/nowhere'))).status).toBe(404);
	});

	it('leaves them to another listener that takes them, and answers 404 when none does', async () => {
		const sockets = createSocketServer({ routes: [route()], maxConnections: 2 });
		const http = createServer();
		const other = new WebSocketServer({ noServer: true });
		const unrouted = new EventLog<string>();
		// Another listener, like Vite's HMR: it takes /other and ignores everything else. It runs
		// before the socket server's, so once it saw an upgrade, ours has seen it too.
		http.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
			if (request.url == '/other') other.handleUpgrade(request, socket, head, () => {});
			else queueMicrotask(() => unrouted.push(request.url ?? ''));
		});
		sockets.attach(http);
		await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
		const { port } = http.address() as AddressInfo;
		try {
			const taken = await attemptUpgrade(`ws://127.0.0.1:${port}/other`);
			expect(taken.opened).toBeDefined();
			const started = Date.now();
			const waiting = [
				attemptUpgrade(`ws://127.0.0.1:${port}/nowhere`),
				attemptUpgrade(`ws://127.0.0.1:${port}/nowhere`)
			];
			await unrouted.waitFor(() => unrouted.items.length == 2, 'both unrouted upgrades');
			// Unanswered upgrades count towards maxConnections (2)…
			expect((await attemptUpgrade(`ws://127.0.0.1:${port}/ws`)).refused?.status).toBe(503);
			// …and are answered 404 after the grace period, taken by no one.
			for (const outcome of await Promise.all(waiting)) expect(outcome.refused?.status).toBe(404);
			expect(Date.now() - started).toBeGreaterThanOrEqual(2_500);
			expect((await attemptUpgrade(`ws://127.0.0.1:${port}/ws`)).opened).toBeDefined();
			// The socket the other listener took was left alone.
			expect([...other.clients].map((client) => client.readyState)).toEqual([WebSocket.OPEN]);
		} finally {
			for (const client of other.clients) client.terminate();
			await sockets.close();
			http.closeAllConnections();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		}
	}, 10_000);
});

describe('defect 7: one large message', () => {
	const Blob = ClientMessage.define<string>('blob');

	it('reaches readers with empty buffers even when larger than maxBufferedBytes', async () => {
		const server = await startSocketServer({ routes: [route({ maxBufferedBytes: 64 * 1024 })] });
		const readers = await Promise.all([connectRaw(server.url()), connectRaw(server.url())]);
		for (const reader of readers) {
			await reader.nextMessage('connected');
			reader.send({ name: 'room.join', data: { room: 'big' }, id: 1 });
			await reader.nextMessage('room.joined');
		}
		await server.sockets.publish(Blob, 'x'.repeat(100 * 1024), { room: 'big' });
		for (const reader of readers) {
			expect(((await reader.nextMessage('blob')).data as string).length).toBe(100 * 1024);
		}
		expect(server.sockets.connections.size).toBe(2);
		expect([...server.sockets.connections].every((connection) => connection.isOpen)).toBe(true);
	});

	it('is refused up front with a RangeError past maxMessageSize, and nothing is sent', async () => {
		const server = await startSocketServer({ routes: [route()], maxMessageSize: 1024 });
		const reader = await connectRaw(server.url());
		await reader.nextMessage('connected');
		await expect(server.sockets.publish(Blob, 'x'.repeat(2048))).rejects.toThrow(RangeError);
		await expect(server.sockets.to('room').emit(Blob, 'x'.repeat(2048))).rejects.toThrow(
			/maxMessageSize/
		);
		const [connection] = server.sockets.connections;
		await expect(
			connection.broadcast({ name: 'blob', data: 'x'.repeat(2048) }, { rooms: ['room'] })
		).rejects.toThrow(RangeError);
		await server.sockets.publish(Blob, 'small');
		expect((await reader.nextMessage('blob')).data).toBe('small');
	});
});

describe('defect 8: room requests of one connection', () => {
	it('apply in the order they were sent: join then leave in one write leaves the client out', async () => {
		const server = await startSocketServer({
			routes: [
				route({
					// An authorization that takes a moment, as a database lookup would.
					authorizeJoin: () => new Promise((resolve) => setTimeout(() => resolve(true), 20))
				})
			]
		});
		const client = await RawClient.connect(server.port);
		await client.waitForText((text) => text.includes('"connected"'), 'connected');
		const join = JSON.stringify({ name: 'room.join', data: { room: 'r' }, id: 1 });
		const leave = JSON.stringify({ name: 'room.leave', data: { room: 'r' }, id: 2 });
		client.socket.write(
			Buffer.concat([encodeFrame(Opcode.Text, join), encodeFrame(Opcode.Text, leave)])
		);
		await client.waitForText((text) => text.includes('"id":2'), 'the leave answer');
		await client.waitForText((text) => text.includes('room.joined'), 'the join answer');
		const [connection] = server.sockets.connections;
		expect([...connection.joinedRooms]).toEqual([]);
		await server.sockets.publish(ClientMessage.define<number>('after'), 1, { room: 'r' });
		await server.sockets.publish(ClientMessage.define<number>('marker'), 2);
		await client.waitForText((text) => text.includes('"marker"'), 'the marker');
		expect(client.texts.some((text) => text.includes('"after"'))).toBe(false);
	});
});

describe('defect 9: rooms per connection', () => {
	it('defaults to 100 and answers too_many_rooms past the limit, with the id and the room', async () => {
		expect(ROUTE_DEFAULTS.maxRoomsPerConnection).toBe(100);
		const server = await startSocketServer({ routes: [route({ maxRoomsPerConnection: 3 })] });
		const client = await connectRaw(server.url());
		await client.nextMessage('connected');
		for (let id = 1; id <= 4; id++) {
			client.send({ name: 'room.join', data: { room: `room-${id}` }, id });
		}
		const refusal = await client.nextMessage('error');
		expect(refusal.id).toBe(4);
		expect(errorOf(refusal)).toMatchObject({ code: 'too_many_rooms', room: 'room-4' });
		// Rejoining a room it is in is not a new room; leaving one makes space.
		client.send({ name: 'room.join', data: { room: 'room-1' }, id: 5 });
		client.send({ name: 'room.leave', data: { room: 'room-2' }, id: 6 });
		client.send({ name: 'room.join', data: { room: 'room-4' }, id: 7 });
		await within(
			(async () => {
				while (
					!client.messages.some((message) => message.name == 'room.joined' && message.id == 7)
				) {
					await client.waitForMessages(client.messages.length + 1);
				}
			})(),
			'the join of room-4'
		);
		const [connection] = server.sockets.connections;
		expect([...connection.joinedRooms].sort()).toEqual(['room-1', 'room-3', 'room-4']);
	});
});

// Issue 9: `on` behaves as the client's does — the server used to replace a handler silently.
describe('server.on', () => {
	it('runs every handler of a name in order, sharing one reply, and removes only the one asked', async () => {
		const server = await startSocketServer({ routes: [route()] });
		const Note = ClientMessage.define<string>('note');
		const seen: string[] = [];
		server.sockets.on(Note, (_connection, data, reply) => {
			seen.push(`first ${data}`);
			reply('first');
		});
		const removeSecond = server.sockets.on(Note, (_connection, data, reply) => {
			seen.push(`second ${data}`);
			reply('second');
		});
		const client = await connectRaw(server.url());
		await client.nextMessage('connected');
		client.send({ name: 'note', data: 'a', id: 1 });
		expect(await client.nextMessage('reply')).toMatchObject({ id: 1, data: 'first' });
		removeSecond();
		client.send({ name: 'note', data: 'b', id: 2 });
		await client.waitForMessages(3);
		await client.roundTrip();
		expect(seen).toEqual(['first a', 'second a', 'first b']);
		expect(client.messages.filter((message) => message.name == 'reply')).toHaveLength(2);
	});
});

describe('a reply that cannot be serialised', () => {
	it('is answered internal_error instead of never', async () => {
		const errors: string[] = [];
		const server = await startSocketServer({
			routes: [route({ onError: (_connection, error) => errors.push(error.name) })]
		});
		server.sockets.on(ClientMessage.define<null>('bigint'), (_connection, _data, reply) =>
			reply({ value: 1n })
		);
		const client = await connectRaw(server.url());
		await client.nextMessage('connected');
		client.send({ name: 'bigint', data: null, id: 1 });
		const answer = await client.nextMessage('error');
		expect([answer.id, errorOf(answer).code]).toEqual([1, 'internal_error']);
		expect(errors).toEqual(['TypeError']);
	});
});
