import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import {
	ClientMessage,
	Connected,
	Disconnected,
	SocketError,
	type InboundMessage,
	type StandardSchema
} from '../../src/lib/index.js';
import { errorsOf, makeClient, track } from '../kit/clients.js';
import { nextError, nextEvent, reachState, within } from '../kit/wait.js';
import { TestServer, type ServerPeer } from '../kit/servers/ws-server.js';
import { READ_REPORT_PREFIX } from '../../src/lib/protocol/envelope.js';

const IncidentCreated = ClientMessage.define(
	'incident.created',
	z.object({ uuid: z.string(), severity: z.enum(['critical', 'warning', 'info']) })
);
const Typing = ClientMessage.define<{ user: string }>('typing');
const CreateIncident = ClientMessage.define<{ title: string }>('incident.create');

afterEach(() => {
	vi.useRealTimers();
	vi.unstubAllGlobals();
});

async function connectedPair(options = {}) {
	const server = track(await TestServer.start());
	const client = makeClient(server.url, options);
	client.connect();
	const peer = await server.connection(0);
	await reachState(client, 'connected');
	return { server, client, peer };
}

/** Resolves once `peer` sent `marker` and the client handled it: everything sent before has arrived. */
async function roundTrip(client: ReturnType<typeof makeClient>, peer: ServerPeer): Promise<void> {
	const Marker = ClientMessage.define<number>('test.marker');
	const seen = new Promise<void>((resolve) => {
		const off = client.on(Marker, () => {
			off();
			resolve();
		});
	});
	peer.deliver('test.marker', 1);
	await within(seen, 'the marker message');
}

describe('typed messages', () => {
	it('delivers validated data and the envelope to every handler of a definition', async () => {
		const { client, peer } = await connectedPair();
		const seen: unknown[] = [];
		client.on(IncidentCreated, (data, message) => seen.push(['a', data, message.timestamp]));
		client.on(IncidentCreated, (data) => seen.push(['b', data]));
		peer.deliver('incident.created', { uuid: 'u1', severity: 'critical' }, { timestamp: 42 });
		await roundTrip(client, peer);
		expect(seen).toEqual([
			['a', { uuid: 'u1', severity: 'critical' }, 42],
			['b', { uuid: 'u1', severity: 'critical' }]
		]);
	});

	it('keeps invalid data from every handler and reports it once', async () => {
		const { client, peer } = await connectedPair();
		const handled = vi.fn();
		client.on(IncidentCreated, handled);
		client.on(IncidentCreated, handled);
		const invalid = nextError(client, 'validation');
		peer.deliver('incident.created', { uuid: 7, severity: 'apocalyptic' });
		const error = await invalid;
		await roundTrip(client, peer);
		expect(handled).not.toHaveBeenCalled();
		expect(error.message).toContain('incident.created');
		expect((error.detail as { issues: unknown[] }).issues.length).toBeGreaterThan(0);
		expect(errorsOf(client).filter((reported) => reported.kind == 'validation')).toHaveLength(1);
	});

	it('passes the schema output on, transforms included', async () => {
		const { client, peer } = await connectedPair();
		const Stamped = ClientMessage.define(
			'stamped',
			z.object({ at: z.string().transform(Date.parse) })
		);
		const received = new Promise<number>((resolve) => client.on(Stamped, ({ at }) => resolve(at)));
		peer.deliver('stamped', { at: '2026-01-25T10:30:00.000Z' });
		expect(await within(received, 'stamped')).toBe(Date.parse('2026-01-25T10:30:00.000Z'));
	});

	it('waits for async schemas before calling handlers', async () => {
		const { client, peer } = await connectedPair();
		const Checked = ClientMessage.define(
			'checked',
			z
				.object({ id: z.string() })
				.refine(async ({ id }) => id.startsWith('ok'), 'id must start with ok')
		);
		const good = new Promise<string>((resolve) => client.on(Checked, ({ id }) => resolve(id)));
		const bad = nextError(client, 'validation');
		peer.deliver('checked', { id: 'nope' });
		peer.deliver('checked', { id: 'ok-1' });
		expect((await bad).message).toContain('id must start with ok');
		expect(await within(good, 'the valid message')).toBe('ok-1');
	});

	it('stops calling a handler once unsubscribed, and survives a handler that throws', async () => {
		const { client, peer } = await connectedPair();
		const calls: string[] = [];
		const off = client.on(Typing, ({ user }) => calls.push(`first:${user}`));
		client.on(Typing, () => {
			throw new Error('handler bug');
		});
		client.on(Typing, ({ user }) => calls.push(`last:${user}`));
		const reported = vi.fn();
		vi.stubGlobal('reportError', reported);
		peer.deliver('typing', { user: 'ada' });
		await roundTrip(client, peer);
		expect(reported).toHaveBeenCalledWith(new Error('handler bug'));
		off();
		peer.deliver('typing', { user: 'bob' });
		await roundTrip(client, peer);
		expect(calls).toEqual(['first:ada', 'last:ada', 'last:bob']);
	});

	it('stops validating a definition once its last handler is gone, and keeps one subscribed again', async () => {
		const { client, peer } = await connectedPair();
		const validated = vi.fn(() => ({ issues: [{ message: 'never valid' }] }));
		const Strict = ClientMessage.define('strict', {
			'~standard': { version: 1, vendor: 'test', validate: validated }
		});
		client.on(Strict, () => {})();
		peer.deliver('strict', 1);
		await roundTrip(client, peer);
		expect(validated).not.toHaveBeenCalled();
		expect(errorsOf(client)).toEqual([]);

		const first = client.on(Strict, () => {});
		first();
		const second = client.on(Strict, () => {});
		first();
		peer.deliver('strict', 2);
		await roundTrip(client, peer);
		expect(validated).toHaveBeenCalledTimes(1);
		second();
	});

	it('hands every message to onMessage, known name or not', async () => {
		const { client, peer } = await connectedPair();
		const names: string[] = [];
		client.onMessage((message: InboundMessage) => names.push(message.name));
		peer.deliver('nobody.listens', { x: 1 });
		await roundTrip(client, peer);
		expect(names).toEqual(['nobody.listens', 'test.marker']);
	});
});

describe('async schemas and the end of a client', () => {
	/**
	 * A message whose schema answers only once `release()` is called (numbers are valid, anything
	 * else is not), and `validated`, which resolves once every answer it gave has been handed on.
	 */
	function gatedMessage() {
		let release = () => {};
		const gate = new Promise<void>((resolve) => (release = resolve));
		const answers: Promise<unknown>[] = [];
		const numberLater: StandardSchema<unknown, number> = {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: (value) => {
					const answer = gate.then(() =>
						typeof value == 'number' ? { value } : { issues: [{ message: 'not a number' }] }
					);
					answers.push(answer);
					return answer;
				}
			}
		};
		const Gated = ClientMessage.define('gated', numberLater);
		// A macrotask after the answers: every microtask the client chained on them has run.
		const validated = async () => {
			await Promise.all(answers);
			await new Promise((resolve) => setImmediate(resolve));
		};
		return { Gated, release, validated };
	}

	it('calls no handler and reports nothing after dispose(), whatever was still being validated', async () => {
		const { client, peer } = await connectedPair();
		const { Gated, release, validated } = gatedMessage();
		const handled: unknown[] = [];
		client.on(Gated, (data) => handled.push(data));
		client.on(Typing, (data) => handled.push(data)); // queued behind the gated one
		const warned = vi.spyOn(console, 'warn').mockImplementation(() => {});
		const arrived = new Promise<void>((resolve) => {
			let count = 0;
			client.onMessage(() => ++count == 3 && resolve());
		});
		peer.deliver('gated', 1);
		peer.deliver('gated', 'invalid');
		peer.deliver('typing', { user: 'ada' });
		await within(arrived, 'three messages');

		client.dispose();
		release();
		await validated();
		expect(handled).toEqual([]);
		expect(errorsOf(client)).toEqual([]);
		expect(warned).not.toHaveBeenCalled();
	});

	it('calls no further handler of a message once one of them disposed the client', async () => {
		const { client, peer } = await connectedPair();
		const handled: string[] = [];
		client.on(Typing, () => {
			handled.push('first');
			client.dispose();
		});
		client.on(Typing, () => handled.push('second'));
		client.on(ClientMessage.define('typing'), () => handled.push('another definition'));
		const disposed = new Promise<void>((resolve) => client.on(Disconnected, () => resolve()));
		peer.deliver('typing', { user: 'ada' });
		await within(disposed, 'the client to dispose itself');
		expect(handled).toEqual(['first']);
	});

	it('calls no handler unsubscribed while its message was being validated', async () => {
		const { client, peer } = await connectedPair();
		const { Gated, release, validated } = gatedMessage();
		const handled: string[] = [];
		const off = client.on(Gated, () => handled.push('unsubscribed'));
		client.on(Gated, () => handled.push('kept'));
		const arrived = new Promise<void>((resolve) => client.onMessage(() => resolve()));
		peer.deliver('gated', 1);
		await within(arrived, 'the message');
		off();
		release();
		await validated();
		expect(handled).toEqual(['kept']);
	});
});

describe('bad input from the server', () => {
	it('reports malformed frames and stays connected', async () => {
		const { client, peer } = await connectedPair();
		for (const frame of ['{not json', '[1,2]', '42', '{"data":1}']) {
			const malformed = nextError(client, 'malformed');
			peer.send(frame);
			expect((await malformed).detail).toBe(frame);
		}
		const binary = nextError(client, 'malformed');
		peer.socket.send(Buffer.from([1, 2, 3]));
		expect((await binary).message).toMatch(/binary/);
		await roundTrip(client, peer);
		expect(client.connectionState).toBe('connected');
	});

	it('drops __proto__, and constructor keys holding a prototype, before any handler sees them', async () => {
		const { client, peer } = await connectedPair();
		const Profile = ClientMessage.define<Record<string, unknown>>('profile');
		const received = new Promise<Record<string, unknown>>((resolve) => client.on(Profile, resolve));
		peer.send(
			'{"name":"profile","data":{"name":"ada","__proto__":{"admin":true},"nested":{"constructor":{"prototype":{"x":1}},"ok":1}}}'
		);
		const data = await within(received, 'the profile');
		expect(data).toEqual({ name: 'ada', nested: { ok: 1 } });
		expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
		expect(({} as Record<string, unknown>).admin).toBeUndefined();
	});

	it('reports an error envelope without an id as a server error', async () => {
		const { client, peer } = await connectedPair();
		const reported = nextError(client, 'server');
		peer.deliver('error', { code: 'rate_limited', message: 'Slow down' });
		const error = await reported;
		expect(error.message).toBe('Slow down');
		expect(error.detail).toEqual({ code: 'rate_limited', message: 'Slow down' });
	});
});

describe('sending', () => {
	it('sends emit() and send() as envelopes', async () => {
		const { client, peer } = await connectedPair();
		client.emit(Typing, { user: 'ada' });
		client.send('raw.name', [1, 2]);
		await peer.waitForFrames(2);
		expect(peer.messages).toEqual([
			{ name: 'typing', data: { user: 'ada' } },
			{ name: 'raw.name', data: [1, 2] }
		]);
	});

	it('throws "Not connected" for { buffer: false } while disconnected, and a TypeError for no name', () => {
		const client = makeClient('ws://127.0.0.1:1');
		expect(() => client.emit(Typing, { user: 'ada' }, { buffer: false })).toThrow('Not connected');
		expect(() => client.send('')).toThrow(TypeError);
	});

	it('buffers while disconnected and flushes after auth and rooms, in order', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { auth: () => 'token' });
		client.send('first', 1);
		client.joinRoom('project:9');
		client.send('second', 2);
		client.connect();
		const peer = await server.connection(0);
		await peer.waitForFrames(4);
		expect(peer.messages).toEqual([
			{ name: 'auth', data: { token: 'token' } },
			{ name: 'room.join', data: { room: 'project:9' } },
			{ name: 'first', data: 1 },
			{ name: 'second', data: 2 }
		]);
	});

	it('drops the oldest buffered message past maxBufferSize and says so', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { maxBufferSize: 2 });
		client.send('one', 1);
		client.send('two', 2);
		const overflow = nextError(client, 'overflow');
		client.send('three', 3);
		expect((await overflow).detail).toBe('{"name":"one","data":1}');
		client.connect();
		const peer = await server.connection(0);
		await peer.waitForFrames(2);
		expect(peer.messages).toEqual([
			{ name: 'two', data: 2 },
			{ name: 'three', data: 3 }
		]);
	});

	it('drops buffered messages older than maxBufferAge and says how many', async () => {
		vi.useFakeTimers({ toFake: ['Date'] });
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { maxBufferAge: 1_000 });
		client.send('old', 1);
		vi.setSystemTime(Date.now() + 5_000);
		client.send('new', 2);
		const expired = nextError(client, 'expired');
		client.connect();
		expect((await expired).message).toBe('1 expired');
		const peer = await server.connection(0);
		await peer.waitForFrames(1);
		await roundTrip(client, peer);
		expect(peer.messages).toEqual([{ name: 'new', data: 2 }]);
	});
});

describe('requests', () => {
	function answer(peer: ServerPeer, reply: (message: { id: number; data: unknown }) => unknown) {
		peer.socket.on('message', (raw) => {
			const text = raw.toString();
			if (text.startsWith(READ_REPORT_PREFIX)) return;
			const message = JSON.parse(text) as { id?: number; data: unknown };
			if (message.id !== undefined) peer.send(reply(message as { id: number; data: unknown }));
		});
	}

	it('resolves with the reply that carries the same id', async () => {
		const { client, peer } = await connectedPair();
		answer(peer, ({ id, data }) => ({ name: 'reply', id, data: { created: data } }));
		const [first, second] = await Promise.all([
			client.request(CreateIncident, { title: 'one' }),
			client.request(CreateIncident, { title: 'two' })
		]);
		expect(first).toEqual({ created: { title: 'one' } });
		expect(second).toEqual({ created: { title: 'two' } });
		expect(peer.messages.map((message) => (message as { id: number }).id)).toEqual([1, 2]);
	});

	it('puts a key before the id, which stays last on the wire, and leaves it out when none', async () => {
		const { client, peer } = await connectedPair();
		answer(peer, ({ id }) => ({ name: 'reply', id, data: null }));
		await client.request(CreateIncident, { title: 'keyed' }, { key: 'k-1' });
		await client.request(CreateIncident, { title: 'plain' });
		expect(peer.frames).toEqual([
			'{"name":"incident.create","data":{"title":"keyed"},"key":"k-1","id":1}',
			'{"name":"incident.create","data":{"title":"plain"},"id":2}'
		]);
	});

	it('rejects with the server error when the answer is an error', async () => {
		const { client, peer } = await connectedPair();
		answer(peer, ({ id }) => ({
			name: 'error',
			id,
			data: { code: 'forbidden', message: 'Not your project' }
		}));
		const failure = await client.request(CreateIncident, { title: 'x' }).catch((error) => error);
		expect(failure).toBeInstanceOf(SocketError);
		expect(failure).toMatchObject({
			kind: 'server',
			message: 'Not your project',
			detail: { code: 'forbidden', message: 'Not your project' }
		});
		expect(errorsOf(client).filter((error) => error.kind == 'server')).toEqual([]);
	});

	it('rejects on timeout and ignores a late reply', async () => {
		const { client, peer } = await connectedPair();
		const failure = await client
			.request(CreateIncident, { title: 'slow' }, { timeout: 30 })
			.catch((error: SocketError) => error);
		expect(failure).toMatchObject({ kind: 'timeout' });
		const late = new Promise<InboundMessage>((resolve) => client.onMessage(resolve));
		peer.send({ name: 'reply', id: 1, data: 'late' });
		expect((await within(late, 'the late reply')).name).toBe('reply');
	});

	it('rejects when the connection closes first, and at once when not connected', async () => {
		const { client, peer } = await connectedPair();
		const pending = client.request(CreateIncident, { title: 'x' });
		await peer.waitForFrames(1);
		peer.socket.close(1011);
		await expect(pending).rejects.toMatchObject({ kind: 'closed' });
		await expect(client.request(CreateIncident, { title: 'y' })).rejects.toThrow('Not connected');
	});
});

describe('rooms', () => {
	it('counts holders: one join for two, the leave with the last', async () => {
		const { client, peer } = await connectedPair();
		const leaveA = client.joinRoom('project:1');
		client.joinRoom('project:1');
		expect([...client.joinedRooms]).toEqual(['project:1']);
		leaveA();
		leaveA();
		expect([...client.joinedRooms]).toEqual(['project:1']);
		client.leaveRoom('project:1');
		expect([...client.joinedRooms]).toEqual([]);
		client.leaveRoom('project:1');
		await peer.waitForFrames(2);
		await roundTrip(client, peer);
		expect(peer.messages).toEqual([
			{ name: 'room.join', data: { room: 'project:1' } },
			{ name: 'room.leave', data: { room: 'project:1' } }
		]);
	});

	it('rejoins every room after a reconnect, and clearRooms() forgets without leaving', async () => {
		const { server, client, peer } = await connectedPair({ reconnectDelay: 1 });
		client.joinRoom('account:1');
		client.joinRoom('project:2');
		await peer.waitForFrames(2);
		const reconnected = nextEvent(client, Connected);
		peer.socket.close(1011);
		await reconnected;
		const second = await server.connection(1);
		await second.waitForFrames(2);
		expect(second.messages).toEqual([
			{ name: 'room.join', data: { room: 'account:1' } },
			{ name: 'room.join', data: { room: 'project:2' } }
		]);
		client.clearRooms();
		expect(client.joinedRooms.size).toBe(0);
		await roundTrip(client, second);
		expect(second.frames).toHaveLength(2);
	});

	it('waits for every rejoin answer before Connected, unswayed by unrelated errors', async () => {
		const { server, client, peer } = await connectedPair({ reconnectDelay: 1 });
		client.joinRoom('r');
		await peer.waitForFrames(1);
		peer.deliver('room.joined', { room: 'r', offset: 0, epoch: 'e', recovered: true });
		peer.deliver('note', 1, { room: 'r', offset: 1, epoch: 'e' });
		await roundTrip(client, peer);

		let connectedEarly = false;
		const connected = nextEvent(client, Connected);
		void connected.then(() => (connectedEarly = true));
		peer.socket.close(1011);
		const second = await server.connection(1);
		const rejoin = await second.waitForFrame((frame) => frame.includes('room.join'));
		expect(JSON.parse(rejoin).data).toEqual({ room: 'r', since: { offset: 1, epoch: 'e' } });
		second.deliver('error', { code: 'rate_limited', message: 'Slow down' });
		await roundTrip(client, second);
		expect(connectedEarly).toBe(false);
		second.deliver('room.joined', { room: 'r', offset: 1, epoch: 'e', recovered: true });
		expect(await connected).toEqual({ reconnected: true, recovered: true });
	});

	it('refuses an empty room name with a TypeError', () => {
		const client = makeClient('ws://127.0.0.1:1');
		expect(() => client.joinRoom('')).toThrow(TypeError);
	});
});
