// The client against a server that misbehaves on purpose (issue 8, "The suite", last bullet): every
// hostile input is reported through onError or ignored, never thrown into the app (no unhandled
// rejection, no uncaught exception), never makes the client reconnect faster than its backoff,
// and good messages sent after bad ones are still served.
import { once } from 'node:events';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import type WebSocket from 'ws';
import {
	ClientMessage,
	Connected,
	Disconnected,
	ReconnectAttempt,
	SocketClient,
	type SocketClientOptions,
	type SocketError,
	type StandardSchema,
	Unrecoverable
} from '../../src/lib/index.js';
import { errorsOf, makeClient } from '../kit/clients.js';
import { HostileServer, type HostilePeer } from '../kit/servers/hostile-server.js';
import { encodeFrame, Opcode } from '../kit/peers/raw-frames.js';
import { nextEvent, reachState, within } from '../kit/wait.js';

const Marker = ClientMessage.define('test.marker', z.number());

const processFailures: unknown[] = [];
const recordFailure = (error: unknown) => processFailures.push(error);

beforeEach(() => {
	process.on('unhandledRejection', recordFailure);
	process.on('uncaughtException', recordFailure);
});

afterEach(() => {
	vi.useRealTimers();
	process.off('unhandledRejection', recordFailure);
	process.off('uncaughtException', recordFailure);
	expect(processFailures.splice(0), 'unhandled rejections and uncaught exceptions').toEqual([]);
});

async function connected(options: SocketClientOptions = {}) {
	const server = await HostileServer.start();
	const client = makeClient(server.url, options);
	client.connect();
	const peer = await server.connection(0);
	await reachState(client, 'connected');
	return { server, client, peer };
}

/** Resolves once a marker sent after everything else was handled: the client still serves. */
async function stillServes(client: SocketClient, peer: HostilePeer, value = 1): Promise<void> {
	const handled = new Promise<void>((resolve) => {
		const off = client.on(Marker, (received) => {
			if (received != value) return;
			off();
			resolve();
		});
	});
	peer.deliver(Marker.name, value);
	await within(handled, `marker ${value}`);
}

/** Resolves once `client` reported `count` errors in all. */
function reported(client: SocketClient, count: number): Promise<void> {
	return within(
		new Promise<void>((resolve) => {
			const check = () => errorsOf(client).length >= count && resolve();
			client.onError(check);
			check();
		}),
		`${count} errors`
	);
}

function kinds(client: SocketClient): SocketError['kind'][] {
	return errorsOf(client).map((error) => error.kind);
}

/** The most connection attempts the server saw within any `windowMs`. */
function busiestWindow(attempts: readonly number[], windowMs = 1_000): number {
	let busiest = 0;
	for (let first = 0; first < attempts.length; first++) {
		let last = first;
		while (last + 1 < attempts.length && attempts[last + 1] - attempts[first] < windowMs) last++;
		busiest = Math.max(busiest, last - first + 1);
	}
	return busiest;
}

describe('a client against a hostile server', () => {
	it('reports garbage, invalid JSON, non-objects and binary frames as malformed and keeps serving', async () => {
		const { server, client, peer } = await connected();
		const garbage = [
			'not json',
			'{"name":',
			'',
			'[1,2,3]',
			'null',
			'42',
			'"text"',
			'{"data":1}',
			'{"name":5,"data":1}',
			'{"name":null}',
			'\u0000\uffff'
		];
		for (const frame of garbage) peer.send(frame);
		peer.frame(Opcode.Binary, Buffer.from([0, 1, 2, 255]));
		await stillServes(client, peer);
		expect(kinds(client)).toEqual(Array(garbage.length + 1).fill('malformed'));
		expect(client.connectionState).toBe('connected');
		expect(server.attempts).toHaveLength(1);
	});

	it('drops polluted keys at every depth before a handler sees the data', async () => {
		const { client, peer } = await connected();
		const Update = ClientMessage.define<Record<string, unknown>>('update');
		const seen: unknown[] = [];
		client.on(Update, (data) => seen.push(data));
		peer.send(
			'{"name":"update","__proto__":{"polluted":1},"data":{"a":{"constructor":{"prototype":{"polluted":2}}},"\\u005f_proto__":{"polluted":3}}}'
		);
		await stillServes(client, peer);
		expect(seen).toEqual([{ a: {} }]);
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});

	it('reports a schema that throws, rejects or returns nonsense as a validation error and serves the others', async () => {
		const { client, peer } = await connected();
		const throwing: StandardSchema<unknown, unknown> = {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: () => {
					throw new Error('schema exploded');
				}
			}
		};
		const rejecting: StandardSchema<unknown, unknown> = {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: () => Promise.reject(new Error('schema rejected'))
			}
		};
		const nonsense = {
			'~standard': { version: 1, vendor: 'test', validate: () => ({ issues: 'not a list' }) }
		} as unknown as StandardSchema<unknown, unknown>;
		const parsesJson = z.object({ raw: z.string().transform((raw) => JSON.parse(raw) as unknown) });
		const handled: string[] = [];
		for (const [label, schema] of [
			['throwing', throwing],
			['rejecting', rejecting],
			['nonsense', nonsense],
			['zod transform', parsesJson]
		] as const) {
			client.on(ClientMessage.define('payload', schema), () => handled.push(label));
		}
		client.on(ClientMessage.define('payload', z.object({ raw: z.string() })), () =>
			handled.push('plain')
		);
		peer.deliver('payload', { raw: '{not json' });
		peer.deliver('payload', { raw: '{"ok":true}' });
		await stillServes(client, peer);
		await reported(client, 7); // two per broken schema, one for the transform
		expect(kinds(client)).toEqual(Array(7).fill('validation'));
		expect(handled.sort()).toEqual(['plain', 'plain', 'zod transform']);
	});

	it('ignores replies to unknown request ids, reports errors for them, and still answers real requests', async () => {
		const { client, peer } = await connected();
		const Create = ClientMessage.define<{ title: string }>('create');
		const connectedMessages: unknown[] = [];
		client.on(ClientMessage.define('connected'), (data) => connectedMessages.push(data));
		peer.deliver('reply', { stray: true }, { id: 999 });
		peer.deliver('reply', { stray: true }, { id: '1' });
		peer.deliver('reply', { stray: true }, { id: { nested: 1 } });
		peer.deliver('error', { code: 'bogus', message: 'for nobody' }, { id: 12_345 });
		peer.deliver('error', 'not even an object', { id: -1 });
		peer.deliver('connected', { id: 'a' });
		peer.deliver('connected', { id: 'b' });
		const answer = client.request<{ uuid: string }>(Create, { title: 'x' });
		const request = JSON.parse(
			await peer.frames.waitFor((frame) => frame.includes('"create"'), 'the request')
		) as { id: number };
		peer.deliver('reply', { uuid: 'u1' }, { id: request.id });
		peer.deliver('reply', { uuid: 'twice' }, { id: request.id });
		expect(await answer).toEqual({ uuid: 'u1' });
		await stillServes(client, peer);
		expect(connectedMessages).toEqual([{ id: 'a' }, { id: 'b' }]);
		expect(kinds(client)).toEqual(['server', 'server']);
		expect(client.connectionState).toBe('connected');
	});

	it('serves room messages whatever their offsets and epochs say, without throwing', async () => {
		const { server, client, peer } = await connected();
		const Tick = ClientMessage.define('tick', z.number());
		const ticks: number[] = [];
		client.on(Tick, (tick) => ticks.push(tick));
		client.joinRoom('r');
		await peer.frames.waitFor((frame) => frame.includes('room.join'), 'the join');
		peer.deliver('room.joined', { room: 'r', offset: 0, epoch: 'e1', recovered: true });
		const tick = (value: number, position: Record<string, unknown>) =>
			peer.deliver('tick', value, { room: 'r', ...position });
		tick(1, { offset: 1, epoch: 'e1' });
		tick(2, { offset: 2, epoch: 'e1' });
		tick(-1, { offset: 1, epoch: 'e1' }); // decreasing: a duplicate by the protocol's rules
		tick(-2, { offset: 2, epoch: 'e1' });
		tick(3, { offset: 3, epoch: 'e1' });
		tick(4, { offset: '4', epoch: 'e1' }); // not a number: not a position, just delivered
		tick(5, { offset: null, epoch: 5 });
		tick(6, { offset: 4, epoch: 7 }); // an epoch that is not a string
		tick(7, { offset: 5, epoch: 7 });
		tick(8, { offset: 4, epoch: 'e1' }); // back to e1, after it
		for (const room of [7, null, {}, [], true, '']) tick(9, { room, offset: 1, epoch: 'e1' });
		tick(10, { offset: 5, epoch: 'e1' });
		peer.deliver('room.joined', { room: 7, offset: 'x', epoch: [] });
		peer.deliver('room.joined', { room: 'r', offset: {}, recovered: 'maybe' });
		peer.deliver('room.joined', 'not an object');
		await stillServes(client, peer);
		expect(ticks).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 9, 9, 9, 10]);
		expect(kinds(client)).toEqual([]);

		// The rejoin after a reconnect still asks from the last good position.
		peer.destroy();
		const rejoin = await (
			await server.connection(1)
		).frames.waitFor((frame) => frame.includes('room.join'), 'the rejoin');
		expect(JSON.parse(rejoin)).toEqual({
			name: 'room.join',
			data: { room: 'r', since: { offset: 5, epoch: 'e1' } }
		});
	});

	it('joins a room it left afresh, whatever room messages still arrived for it', async () => {
		const { client, peer } = await connected();
		const joins = () => peer.frames.items.filter((frame) => frame.includes('room.join'));
		const leave = client.joinRoom('r');
		peer.deliver('room.joined', { room: 'r', offset: 3, epoch: 'e1', recovered: true });
		peer.deliver('tick', 4, { room: 'r', offset: 4, epoch: 'e1' });
		await stillServes(client, peer);
		leave();
		// Published before the server saw the leave: on its way, it arrives after it.
		peer.deliver('tick', 5, { room: 'r', offset: 5, epoch: 'e1' });
		peer.deliver('room.joined', { room: 'r', offset: 5, epoch: 'e1', recovered: false });
		await stillServes(client, peer, 2);
		client.joinRoom('r');
		await peer.frames.until(() => (joins().length == 2 ? true : undefined), 'the second join');
		expect(joins().map((frame) => JSON.parse(frame) as unknown)).toEqual([
			{ name: 'room.join', data: { room: 'r' } },
			{ name: 'room.join', data: { room: 'r' } }
		]);
	});

	it('serves a burst of 10,000 frames, good ones in order, each bad one reported once', async () => {
		const { server, client, peer } = await connected();
		const Numbered = ClientMessage.define('numbered', z.object({ n: z.number().int() }));
		const received: number[] = [];
		client.on(Numbered, ({ n }) => received.push(n));
		const frames: Buffer[] = [];
		const expected: number[] = [];
		for (let n = 0; n < 10_000; n++) {
			const frame =
				n % 10 == 3
					? '{"name":"numbered",' // malformed
					: n % 10 == 7
						? JSON.stringify({ name: 'numbered', data: { n: 'NaN' } }) // invalid data
						: JSON.stringify({ name: 'numbered', data: { n }, timestamp: n });
			if (n % 10 != 3 && n % 10 != 7) expected.push(n);
			frames.push(encodeFrame(Opcode.Text, frame, { mask: false }));
		}
		peer.write(Buffer.concat(frames)); // one write: the client gets them as fast as TCP allows
		await stillServes(client, peer);
		expect(received).toEqual(expected);
		expect(kinds(client).filter((kind) => kind == 'malformed')).toHaveLength(1_000);
		expect(kinds(client).filter((kind) => kind == 'validation')).toHaveLength(1_000);
		expect(errorsOf(client)).toHaveLength(2_000);
		expect(client.connectionState).toBe('connected');
		expect(server.attempts).toHaveLength(1);
	});

	describe('never answers a rejoin', () => {
		const positions = { r: { offset: 3, epoch: 'e1' }, s: { offset: 5, epoch: 'e1' } };

		/** A client (no heartbeat: its only timer is the rejoin deadline) holding `r` and `s` from a position. */
		function rejoining(server: HostileServer) {
			const client = makeClient(server.url, { heartbeatInterval: 0, reconnectDelay: 1 });
			client.joinRoom('r', positions.r);
			client.joinRoom('s', positions.s);
			client.joinRoom('plain');
			const announced: unknown[] = [];
			client.on(Connected, (event) => announced.push(event));
			return { client, announced };
		}

		function joinsOf(peer: HostilePeer): Promise<string[]> {
			return peer.frames.waitForCount(3, (frame) => frame.includes('room.join'), 'three joins');
		}

		it('announces Connected once the request timeout passed, each unanswered room reported, and still takes a late answer', async () => {
			vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
			const server = await HostileServer.start();
			const { client, announced } = rejoining(server);
			client.connect();
			const peer = await server.connection(0);
			await joinsOf(peer);
			await reachState(client, 'connected');
			vi.advanceTimersByTime(9_999); // the default requestTimeout is 10 s
			expect(announced).toEqual([]);
			const connected = nextEvent(client, Connected);
			vi.advanceTimersByTime(1);
			expect(await connected).toEqual({ reconnected: false, recovered: false });
			expect(errorsOf(client).map(({ kind, message, detail }) => [kind, message, detail])).toEqual([
				['timeout', 'Rejoin timeout', { room: 'r' }],
				['timeout', 'Rejoin timeout', { room: 's' }]
			]);

			// An answer that comes after the deadline still moves the room on.
			const unrecoverable = nextEvent(client, Unrecoverable);
			peer.deliver('room.joined', { room: 'r', offset: 9, epoch: 'e2', recovered: false });
			expect(await unrecoverable).toEqual({ room: 'r' });
			await stillServes(client, peer);
			expect(announced).toHaveLength(1);
			expect(client.connectionState).toBe('connected');
			expect(server.attempts).toHaveLength(1);
			expect(vi.getTimerCount()).toBe(0);
		});

		it('leaves no deadline behind when a state handler ends the connection as it opens', async () => {
			vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
			const server = await HostileServer.start();
			const { client, announced } = rejoining(server);
			let opened: WebSocket | undefined;
			client.onStateChange((state) => {
				if (state != 'connected') return;
				opened = client.socket as WebSocket;
				client.disconnect();
			});
			client.connect();
			const peer = await server.connection(0);
			await peer.ended;
			// `ws` keeps a timer of its own until its closing handshake is over.
			if (opened!.readyState != opened!.CLOSED) await within(once(opened!, 'close'), 'the close');
			expect(client.connectionState).toBe('disconnected');
			expect(vi.getTimerCount()).toBe(0);
			expect(announced).toEqual([]);
			expect(errorsOf(client)).toEqual([]);
		});

		it('bounds each connection on its own: a drop ends the deadline, answers before it end it too', async () => {
			vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
			const server = await HostileServer.start();
			const { client, announced } = rejoining(server);
			client.connect();
			await joinsOf(await server.connection(0));
			vi.advanceTimersByTime(9_000);
			(await server.connection(0)).destroy(); // gone before its deadline
			await reachState(client, 'reconnecting');
			vi.advanceTimersByTime(1); // the reconnect delay
			const peer = await server.connection(1);
			await joinsOf(peer);
			vi.advanceTimersByTime(9_000); // 18 s since the first rejoin: no deadline left from it
			expect(errorsOf(client).filter(({ kind }) => kind == 'timeout')).toEqual([]);
			const connected = nextEvent(client, Connected);
			peer.deliver('room.joined', { room: 'r', ...positions.r, recovered: true });
			peer.deliver('room.joined', { room: 's', ...positions.s, recovered: true });
			expect(await connected).toEqual({ reconnected: false, recovered: true });
			expect(vi.getTimerCount()).toBe(0); // answered: the deadline is gone
			expect(announced).toHaveLength(1);
		});
	});

	describe('reconnects within its backoff schedule', () => {
		const backoff = { reconnectDelay: 20, maxReconnectDelay: 160 };
		const windowOf = (attempt: number) =>
			Math.min(backoff.maxReconnectDelay, backoff.reconnectDelay * 2 ** (attempt - 1));

		/** Connects, lets `server` misbehave until `attempts` reconnects were announced, checks the pace. */
		async function paced(server: HostileServer, attempts: number, options = {}) {
			const client = makeClient(server.url, { ...backoff, ...options });
			const announced: { attempt: number; delay: number }[] = [];
			const done = new Promise<void>((resolve) =>
				client.on(ReconnectAttempt, (event) => {
					announced.push(event);
					if (announced.length == attempts) resolve();
				})
			);
			const disconnects: { code: number; reason: string; willReconnect: boolean }[] = [];
			client.on(Disconnected, (event) => disconnects.push(event));
			client.connect();
			await within(done, `${attempts} reconnect attempts`, 15_000);
			await server.connection(attempts);
			client.disconnect();
			// Every attempt the server saw was announced, and none came sooner than announced.
			expect(server.attempts).toHaveLength(attempts + 1);
			expect(announced.map(({ attempt }) => attempt)).toEqual(
				Array.from({ length: attempts }, (_, index) => index + 1)
			);
			announced.forEach(({ attempt, delay }, index) => {
				expect(delay).toBeLessThan(windowOf(attempt));
				expect(server.attempts[index + 1] - server.attempts[index]).toBeGreaterThanOrEqual(
					delay - 1
				);
			});
			expect(busiestWindow(server.attempts)).toBeLessThanOrEqual(25);
			return { client, disconnects };
		}

		it('after odd but valid close codes and 123-byte reasons', async () => {
			const server = await HostileServer.start();
			const reason = `${'é'.repeat(61)}!`; // 123 bytes of UTF-8
			const codes = [3000, 4999, 1014, 4000, 1011, 1013, 1001, 1000, 1003, 1007, 1009, 3999];
			server.onConnection = (peer) =>
				peer.close(codes[(server.attempts.length - 1) % codes.length], reason);
			const { disconnects } = await paced(server, codes.length);
			expect(disconnects.map(({ code }) => code)).toEqual(codes);
			for (const event of disconnects) {
				expect(event.reason).toBe(reason);
				expect(event.willReconnect).toBe(true);
			}
		});

		it('after close frames that are invalid on the wire', async () => {
			const server = await HostileServer.start();
			const short = Buffer.from([0x03]);
			const invalid: ((peer: HostilePeer) => void)[] = [
				...[1005, 1006, 1015, 2999, 1004, 1016, 5000, 0, 999].map(
					(code) => (peer: HostilePeer) => peer.close(code)
				),
				(peer) => peer.frame(Opcode.Close, short), // a one-byte payload
				(peer) => peer.close(4000, Buffer.from([0xff, 0xfe])), // a reason that is not UTF-8
				(peer) => peer.close(4000, 'x'.repeat(124)), // a control frame over 125 bytes
				(peer) => peer.frame(Opcode.Close, Buffer.from([0x0f, 0xa0]), { fin: false }) // fragmented
			];
			server.onConnection = (peer) => invalid[(server.attempts.length - 1) % invalid.length](peer);
			const { disconnects } = await paced(server, invalid.length);
			// The client fails such a connection itself, which reads as an abnormal closure.
			expect(disconnects).toEqual(
				Array(invalid.length).fill({ code: 1006, reason: '', willReconnect: true })
			);
		});

		it('when the server refuses every token with 4001', async () => {
			const server = await HostileServer.start();
			server.onConnection = (peer) => peer.close(4001, 'Invalid token');
			let asked = 0;
			await paced(server, 6, { auth: () => `token-${++asked}` });
			expect(asked).toBe(7);
		});

		it('when the server never answers a ping', async () => {
			const server = await HostileServer.start();
			server.answerPings = false;
			const { client } = await paced(server, 5, { heartbeatInterval: 30, heartbeatTimeout: 30 });
			expect(kinds(client)).toEqual(Array(5).fill('heartbeat'));
		});

		it('when a frame never ends', async () => {
			const server = await HostileServer.start();
			// Pongs could not go out anyway: the server is in the middle of a message.
			server.answerPings = false;
			server.onConnection = (peer) => {
				peer.frame(Opcode.Text, '{"name":"endless","data":"', { fin: false });
				// Bytes keep coming, but the message never completes.
				const more = setInterval(
					() => peer.frame(Opcode.Continuation, 'x'.repeat(1_000), { fin: false }),
					5
				);
				void peer.ended.then(() => clearInterval(more));
			};
			const { client } = await paced(server, 4, { heartbeatInterval: 30, heartbeatTimeout: 30 });
			expect(kinds(client)).toEqual(Array(4).fill('heartbeat'));
		});
	});
});

describe('waits longer than a timer can', () => {
	it('takes Infinity as never: heartbeatInterval, timeouts and delays of Infinity send no ping storm', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const server = await HostileServer.start();
		// A timer set past 2^31 − 1 ms fires after 1 ms: each of these was a loop before.
		const client = makeClient(server.url, {
			heartbeatInterval: Infinity,
			heartbeatTimeout: Infinity,
			requestTimeout: Infinity,
			connectionTimeout: Infinity,
			maxReconnectDelay: Infinity
		});
		client.connect();
		const peer = await server.connection(0);
		await reachState(client, 'connected');
		vi.advanceTimersByTime(60_000);
		// Frames arrive in order: once this one is in, every ping sent before it is counted.
		client.send('probe');
		await peer.frames.waitFor((frame) => frame.includes('probe'), 'the probe');
		expect(peer.pings).toBe(0);
		expect(client.connectionState).toBe('connected');
	});
});
