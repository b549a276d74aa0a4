import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
	Connected,
	Disconnected,
	ReconnectAttempt,
	ReconnectFailed,
	SocketClient,
	type ConnectionState
} from '../../src/lib/index.js';
import { errorsOf, makeClient, track } from '../kit/clients.js';
import { nextError, nextEvent, reachState, within } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';

const AUTH = (token: string) => JSON.stringify({ name: 'auth', data: { token } });

describe('connecting', () => {
	it('connects, reports each state, and says the first connection is not a reconnection', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url);
		const states: ConnectionState[] = [];
		client.onStateChange((state) => states.push(state));
		const connected = nextEvent(client, Connected);
		client.connect();
		expect(await connected).toEqual({ reconnected: false, recovered: true });
		expect(states).toEqual(['connecting', 'connected']);
		expect(client.isConnected).toBe(true);
		expect(client.connectionState).toBe('connected');
	});

	it('treats repeated connect() calls as one', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url);
		client.connect();
		client.connect();
		await reachState(client, 'connected');
		client.connect();
		client.send('probe', 1);
		const peer = await server.connection(0);
		await peer.waitForFrame((frame) => frame.includes('probe'));
		expect(server.peers).toHaveLength(1);
	});

	it('asks a URL function (sync or async) before every connection', async () => {
		const server = track(await TestServer.start());
		let calls = 0;
		const client = makeClient(
			async () => {
				calls++;
				return new URL(server.url);
			},
			{ reconnectDelay: 1 }
		);
		client.connect();
		(await server.connection(0)).socket.close(4000, 'again');
		await server.connection(1);
		await reachState(client, 'connected');
		expect(calls).toBe(2);
	});

	it('throws a TypeError without a WebSocket class (Node 20 has no global one)', () => {
		const client = new SocketClient('ws://127.0.0.1:1', { window: null, document: null });
		expect(() => client.connect()).toThrow(/options\.WebSocket/);
	});

	it('rejects bad options with a TypeError that names them', () => {
		expect(() => new SocketClient(42 as unknown as string)).toThrow(TypeError);
		expect(() => new SocketClient('ws://x', { reconnectDelay: -1 })).toThrow(/reconnectDelay/);
		expect(() => new SocketClient('ws://x', { heartbeatTimeout: Number.NaN })).toThrow(
			/heartbeatTimeout/
		);
	});

	it('gives up on a connection that never opens after connectionTimeout, then retries', async () => {
		const silent: Socket[] = [];
		const tcp = createServer((socket) => silent.push(socket));
		await new Promise<void>((resolve) => tcp.listen(0, '127.0.0.1', resolve));
		const { port } = tcp.address() as { port: number };
		try {
			const client = makeClient(`ws://127.0.0.1:${port}`, { connectionTimeout: 100 });
			const timeout = nextError(client, 'timeout');
			const retry = nextEvent(client, ReconnectAttempt);
			client.connect();
			expect((await timeout).message).toMatch(/timeout/i);
			expect((await retry).attempt).toBe(1);
		} finally {
			for (const socket of silent) socket.destroy();
			tcp.close();
		}
	});
});

describe('authentication', () => {
	it('asks the token getter before every connection and sends the token as the first frame', async () => {
		const server = track(await TestServer.start());
		const contexts: unknown[] = [];
		let issued = 0;
		const client = makeClient(server.url, {
			reconnectDelay: 1,
			auth: async (context) => {
				contexts.push(context);
				return `token-${++issued}`;
			}
		});
		client.joinRoom('account:1');
		client.connect();
		const first = await server.connection(0);
		expect((await first.waitForFrames(2)).slice(0, 2)).toEqual([
			AUTH('token-1'),
			JSON.stringify({ name: 'room.join', data: { room: 'account:1' } })
		]);
		first.socket.close(1011, 'restart');
		const second = await server.connection(1);
		expect(await second.waitForFrames(1)).toContain(AUTH('token-2'));
		expect(second.frames[0]).toBe(AUTH('token-2'));
		expect(contexts).toEqual([
			{ attempt: 0, expired: false, refresh: false },
			{ attempt: 1, expired: false, refresh: false }
		]);
	});

	it('after 4001 retries at once with a fresh token marked expired, then backs off if refused again', async () => {
		const server = track(await TestServer.start());
		const contexts: { attempt: number; expired: boolean }[] = [];
		const client = makeClient(server.url, {
			reconnectDelay: 50,
			auth: (context) => {
				contexts.push(context);
				return context.expired ? 'fresh' : 'stale';
			}
		});
		const attempts: { attempt: number; delay: number }[] = [];
		client.on(ReconnectAttempt, (attempt) => attempts.push(attempt));
		client.connect();
		const first = await server.connection(0);
		await first.waitForFrames(1);
		first.socket.close(4001, 'invalid token');
		const second = await server.connection(1);
		expect((await second.waitForFrames(1))[0]).toBe(AUTH('fresh'));
		expect(attempts[0]).toEqual({ attempt: 1, delay: 0 });
		expect(contexts[1]).toEqual({ attempt: 1, expired: true, refresh: false });

		second.socket.close(4001, 'invalid token');
		await nextEvent(client, ReconnectAttempt);
		expect(attempts[1].attempt).toBe(2);
		expect(attempts[1].delay).toBeLessThan(100);
	});

	it('reports a token getter that throws and retries with backoff', async () => {
		const server = track(await TestServer.start());
		let calls = 0;
		const client = makeClient(server.url, {
			reconnectDelay: 1,
			auth: () => {
				if (++calls == 1) throw new Error('session store unavailable');
				return 'ok';
			}
		});
		const failure = nextError(client, 'connect');
		client.connect();
		expect((await failure).message).toMatch(/session store unavailable/);
		expect((await (await server.connection(0)).waitForFrames(1))[0]).toBe(AUTH('ok'));
	});

	it('gives up on a token getter or URL function that never answers after connectionTimeout, then retries', async () => {
		const server = track(await TestServer.start());
		let tokens = 0;
		let urls = 0;
		const never = new Promise<never>(() => {});
		const client = makeClient(() => (++urls == 2 ? never : server.url), {
			reconnectDelay: 1,
			connectionTimeout: 100,
			auth: () => (++tokens == 1 ? never : 'ok')
		});
		const timeouts: string[] = [];
		client.onError((error) => error.kind == 'timeout' && timeouts.push(error.message));
		client.connect();
		expect(client.connectionState).toBe('connecting');
		// The first attempt waits on its token, the second on its URL, the third connects.
		expect((await (await server.connection(0)).waitForFrames(1))[0]).toBe(AUTH('ok'));
		await reachState(client, 'connected');
		expect(timeouts).toEqual(['Connection timeout', 'Connection timeout']);
		expect([tokens, urls]).toEqual([3, 3]);
	});
});

describe('close codes', () => {
	it('stops on 1008 and reports why', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnectDelay: 1 });
		const attempts: unknown[] = [];
		client.on(ReconnectAttempt, (attempt) => attempts.push(attempt));
		client.connect();
		const peer = await server.connection(0);
		const closed = nextError(client, 'closed');
		const disconnected = nextEvent(client, Disconnected);
		peer.socket.close(1008, 'forbidden');
		expect(await disconnected).toEqual({ code: 1008, reason: 'forbidden', willReconnect: false });
		expect((await closed).detail).toEqual({ code: 1008, reason: 'forbidden' });
		// Reconnects are scheduled synchronously on close, so none is pending if none was announced.
		expect(client.connectionState).toBe('disconnected');
		expect(attempts).toEqual([]);
		client.connect();
		await server.connection(1);
	});

	it('stops on any code listed in stopCloseCodes', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnectDelay: 1, stopCloseCodes: [4403] });
		client.connect();
		const peer = await server.connection(0);
		const disconnected = nextEvent(client, Disconnected);
		peer.socket.close(4403, 'account suspended');
		expect((await disconnected).willReconnect).toBe(false);
		expect(client.connectionState).toBe('disconnected');
	});

	it.each([1001, 1011, 1013, 4000, 4003])('backs off and reconnects after %i', async (code) => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnectDelay: 1 });
		client.connect();
		const peer = await server.connection(0);
		const disconnected = nextEvent(client, Disconnected);
		peer.socket.close(code, 'bye');
		expect(await disconnected).toEqual({ code, reason: 'bye', willReconnect: true });
		const reconnected = nextEvent(client, Connected);
		expect(client.connectionState).toBe('reconnecting');
		expect(await reconnected).toEqual({ reconnected: true, recovered: true });
	});

	it('does not reconnect when reconnect is false', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnect: false });
		client.connect();
		const peer = await server.connection(0);
		const disconnected = nextEvent(client, Disconnected);
		peer.socket.close(1011);
		expect((await disconnected).willReconnect).toBe(false);
		expect(client.connectionState).toBe('disconnected');
	});
});

describe('reconnecting', () => {
	it('never reconnects when a Disconnected handler calls disconnect()', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnectDelay: 1 });
		const attempts: unknown[] = [];
		client.on(ReconnectAttempt, (attempt) => attempts.push(attempt));
		client.on(Disconnected, () => client.disconnect());
		client.connect();
		await reachState(client, 'connected');
		const disconnected = nextEvent(client, Disconnected);
		(await server.connection(0)).socket.close(1011, 'restart');
		expect(await disconnected).toMatchObject({ willReconnect: true });
		expect(attempts).toEqual([]);
		expect(client.connectionState).toBe('disconnected');
		// Stopped, not broken: the next connect() connects.
		client.connect();
		await server.connection(1);
		expect(server.peers).toHaveLength(2);
	});

	it('comes back after the server dies and restarts on the same port', async () => {
		const server = await TestServer.start();
		const port = server.port;
		const client = makeClient(server.url, { reconnectDelay: 20, maxReconnectDelay: 100 });
		client.connect();
		await server.connection(0);
		const down = nextEvent(client, Disconnected);
		await server.stop();
		expect((await down).willReconnect).toBe(true);
		const failure = nextError(client, 'connect');
		await failure;
		const restarted = track(await TestServer.start(port));
		const connected = nextEvent(client, Connected);
		await restarted.connection(0);
		expect(await connected).toEqual({ reconnected: true, recovered: true });
	});

	it('gives up after maxReconnectAttempts and reports ReconnectFailed', async () => {
		const server = await TestServer.start();
		const client = makeClient(server.url, {
			reconnectDelay: 1,
			maxReconnectDelay: 10,
			maxReconnectAttempts: 2
		});
		const attempts: number[] = [];
		client.on(ReconnectAttempt, ({ attempt }) => attempts.push(attempt));
		client.connect();
		await reachState(client, 'connected');
		const { port } = server;
		const failed = nextEvent(client, ReconnectFailed);
		await server.stop();
		expect(await failed).toEqual({ attempts: 2 });
		expect(attempts).toEqual([1, 2]);
		expect(client.connectionState).toBe('disconnected');
		// The dropped connection (1006), then each failed attempt.
		expect(errorsOf(client).filter((error) => error.kind == 'connect')).toHaveLength(3);
		// Given up: a server back on the port sees no third attempt over thirty reconnection windows.
		const back = track(await TestServer.start(port));
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(back.peers).toHaveLength(0);
		expect(attempts).toEqual([1, 2]);
		expect(client.connectionState).toBe('disconnected');
	});
});

describe('heartbeat', () => {
	it('keeps a connection whose server answers pings', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { heartbeatInterval: 20, heartbeatTimeout: 40 });
		let disconnects = 0;
		client.on(Disconnected, () => disconnects++);
		client.connect();
		await (await server.connection(0)).waitForPings(5);
		expect(disconnects).toBe(0);
		expect(client.connectionState).toBe('connected');
	});

	it('closes and reconnects when pings go unanswered', async () => {
		const server = track(await TestServer.start());
		server.answerPings = false;
		const client = makeClient(server.url, { heartbeatInterval: 20, heartbeatTimeout: 40 });
		client.connect();
		const peer = await server.connection(0);
		const timedOut = nextError(client, 'heartbeat');
		const disconnected = nextEvent(client, Disconnected);
		await peer.waitForFrame((frame) => frame == '2', 'a ping');
		await timedOut;
		expect((await disconnected).willReconnect).toBe(true);
		server.answerPings = true;
		await server.connection(1);
		expect((await peer.closed).code).toBe(1000);
	});
});

describe('disconnect and dispose', () => {
	it('disconnect() closes with 1000, stops reconnecting and clears the buffer', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnectDelay: 1 });
		client.connect();
		const peer = await server.connection(0);
		await reachState(client, 'connected');
		const disconnected = nextEvent(client, Disconnected);
		client.disconnect();
		expect(await disconnected).toEqual({
			code: 1000,
			reason: 'Client disconnected',
			willReconnect: false
		});
		expect((await peer.closed).code).toBe(1000);
		expect(client.connectionState).toBe('disconnected');
		client.send('stale', 1);
		client.disconnect();
		client.connect();
		client.send('fresh', 2);
		const again = await server.connection(1);
		await again.waitForFrame((frame) => frame.includes('fresh'));
		expect(again.frames.some((frame) => frame.includes('stale'))).toBe(false);
	});

	it('disconnect() while still connecting leaves no socket behind', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(async () => server.url);
		client.connect();
		client.disconnect();
		expect(client.connectionState).toBe('disconnected');
		client.connect();
		await reachState(client, 'connected');
		// Only the second connect() reached the server: the first gave up while awaiting its URL.
		client.send('probe', 1);
		await (await server.connection(0)).waitForFrame((frame) => frame.includes('probe'));
		expect(server.peers).toHaveLength(1);
	});

	it('dispose() closes, removes every listener it added and refuses to connect again', async () => {
		const server = track(await TestServer.start());
		const listening = new Map<string, number>();
		const target = (): EventTarget => {
			const events = new EventTarget();
			const add = events.addEventListener.bind(events);
			const remove = events.removeEventListener.bind(events);
			events.addEventListener = (
				type: string,
				listener: EventListenerOrEventListenerObject | null
			) => {
				listening.set(type, (listening.get(type) ?? 0) + 1);
				add(type, listener);
			};
			events.removeEventListener = (
				type: string,
				listener: EventListenerOrEventListenerObject | null
			) => {
				listening.set(type, (listening.get(type) ?? 0) - 1);
				remove(type, listener);
			};
			return events;
		};
		const client = makeClient(server.url, { window: target(), document: target() });
		const disconnects: unknown[] = [];
		client.on(Disconnected, (event) => disconnects.push(event));
		client.connect();
		await reachState(client, 'connected');
		expect([...listening.keys()].sort()).toEqual([
			'offline',
			'online',
			'pagehide',
			'pageshow',
			'visibilitychange'
		]);
		client.dispose();
		expect([...listening.values()].every((count) => count == 0)).toBe(true);
		expect(disconnects).toEqual([
			{ code: 1000, reason: 'Client disconnected', willReconnect: false }
		]);
		expect(() => client.connect()).toThrow(/dispose/);
		expect((await within((await server.connection(0)).closed, 'the close')).code).toBe(1000);
	});
});
