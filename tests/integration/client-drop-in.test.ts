// What code written against seed 002's SocketClient expects, and the defects issue 9 found in it.
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import {
	ClientMessage,
	Connected,
	Disconnected,
	ErrorCode,
	SocketClient,
	SocketError,
	type StandardSchema
} from '../../src/lib/index.js';
import { type WebSocketConstructor } from '../../src/lib/client/socket-client.js';
import { errorsOf, makeClient, track } from '../kit/clients.js';
import { nextError, nextEvent, reachState, within } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';

afterEach(() => {
	vi.restoreAllMocks();
});

async function connectedPair(options = {}) {
	const server = track(await TestServer.start());
	const client = makeClient(server.url, options);
	client.connect();
	const peer = await server.connection(0);
	await reachState(client, 'connected');
	return { server, client, peer };
}

describe('connectionTimeout: 0', () => {
	it('turns the connection timeout off instead of timing out every attempt at once', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { connectionTimeout: 0 });
		client.connect();
		await reachState(client, 'connected');
		expect(errorsOf(client)).toEqual([]);
	});
});

describe('handlers get exactly their payload', () => {
	it('calls state, error and lifecycle handlers with one argument', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url);
		const onState = vi.fn();
		const onConnected = vi.fn();
		const onError = vi.fn();
		client.onStateChange(onState);
		client.on(Connected, onConnected);
		client.onError(onError);
		client.connect();
		await reachState(client, 'connected');
		expect(onState).toHaveBeenCalledWith('connecting');
		expect(onState.mock.calls).toStrictEqual([['connecting'], ['connected']]);
		expect(onConnected.mock.calls).toStrictEqual([[{ reconnected: false, recovered: true }]]);
		(await server.connection(0)).deliver('error', { code: 'forbidden', message: 'no' });
		await vi.waitUntil(() => onError.mock.calls.length > 0, { timeout: 5_000 });
		expect(onError.mock.calls[0]).toHaveLength(1);
	});
});

describe('an established connection that drops without a close frame', () => {
	it('reports the drop once to onError, with its code', async () => {
		const { client, peer } = await connectedPair({ reconnectDelay: 60_000 });
		const disconnected = nextEvent(client, Disconnected);
		peer.socket.terminate();
		expect((await disconnected).code).toBe(1006);
		const errors = errorsOf(client);
		expect(errors).toHaveLength(1);
		expect(errors[0]).toMatchObject({ kind: 'connect', detail: { code: 1006 } });
	});

	it('does not report a clean close by the server', async () => {
		const { client, peer } = await connectedPair({ reconnectDelay: 60_000 });
		const disconnected = nextEvent(client, Disconnected);
		peer.socket.close(1001, 'restart');
		await disconnected;
		expect(errorsOf(client)).toEqual([]);
	});
});

describe('sendRaw', () => {
	it('sends a frame as is while connected', async () => {
		const { client, peer } = await connectedPair();
		client.sendRaw('bare-token');
		expect(await peer.waitForFrame((frame) => frame == 'bare-token')).toBe('bare-token');
	});

	it('throws Not connected unless told to buffer, then sends the buffered frame on connect', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url);
		expect(() => client.sendRaw('now')).toThrow(new SocketError('closed', 'Not connected'));
		client.sendRaw('later', { buffer: true });
		client.connect();
		const peer = await server.connection(0);
		await peer.waitForFrame((frame) => frame == 'later');
		expect(peer.frames).not.toContain('now');
	});
});

describe('the socket of a plain URL without a token getter', () => {
	it('exists as soon as connect() returns, as tests that mock WebSocket expect', () => {
		const created: string[] = [];
		class RecordingWebSocket extends WebSocket {
			constructor(url: string) {
				super(url);
				created.push(url);
			}
		}
		const client = makeClient('ws://127.0.0.1:9/ws', {
			WebSocket: RecordingWebSocket as unknown as WebSocketConstructor
		});
		client.connect();
		expect(created).toEqual(['ws://127.0.0.1:9/ws']);
		expect(client.socket).toBeInstanceOf(RecordingWebSocket);
		expect(client.connectionState).toBe('connecting');
	});

	it('still waits for a token getter that returns a promise', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { auth: async () => 'later' });
		client.connect();
		expect(client.socket).toBeNull();
		await reachState(client, 'connected');
	});

	it('reports a WebSocket constructor that throws and retries', async () => {
		let calls = 0;
		const server = track(await TestServer.start());
		class FailingOnce extends WebSocket {
			constructor(url: string) {
				if (++calls == 1) throw new SyntaxError('bad url');
				super(url);
			}
		}
		const client = makeClient(server.url, {
			WebSocket: FailingOnce as unknown as WebSocketConstructor,
			reconnectDelay: 1
		});
		const failed = nextError(client, 'connect');
		client.connect();
		expect((await failed).message).toMatch(/bad url/);
		await reachState(client, 'connected');
	});
});

describe('async schemas', () => {
	it('hand messages over in arrival order, behind a slower message before them', async () => {
		let release: () => void = () => {};
		const gate = new Promise<void>((resolve) => (release = resolve));
		const slow: StandardSchema<unknown, string> = {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: async (value) => {
					await gate;
					return { value: String(value) };
				}
			}
		};
		const Slow = ClientMessage.define('slow', slow);
		const Fast = ClientMessage.define<string>('fast');
		const { client, peer } = await connectedPair();
		const seen: string[] = [];
		client.on(Slow, (data) => seen.push(`slow:${data}`));
		client.on(Fast, (data) => seen.push(`fast:${data}`));
		const received = new Promise<void>((resolve) => {
			let count = 0;
			client.onMessage(() => ++count == 3 && resolve());
		});
		peer.deliver('slow', 1);
		peer.deliver('fast', 2);
		peer.deliver('fast', 3);
		await within(received, 'three messages');
		release();
		await vi.waitUntil(() => seen.length == 3, { timeout: 5_000 });
		expect(seen).toEqual(['slow:1', 'fast:2', 'fast:3']);
		// Once the queue has drained, synchronous deliveries are synchronous again.
		peer.deliver('fast', 4);
		await vi.waitUntil(() => seen.length == 4, { timeout: 5_000 });
	});
});

describe('a server error', () => {
	it('carries its code, typed, on the SocketError', async () => {
		const { client, peer } = await connectedPair();
		const failure = nextError(client, 'server');
		peer.deliver('error', { code: ErrorCode.Forbidden, message: 'Not allowed' });
		const error = await failure;
		expect(error.code).toBe(ErrorCode.Forbidden);
		expect(error.message).toBe('Not allowed');
	});

	it('has no code on other kinds', () => {
		expect(new SocketError('closed', 'Closed', { code: 1008, reason: '' }).code).toBeUndefined();
	});
});

describe('a handler that throws', () => {
	it('is reported without ending a Node process (no global reportError here)', async () => {
		const { client, peer } = await connectedPair();
		const Boom = ClientMessage.define<number>('boom');
		const report = vi.spyOn(console, 'error').mockImplementation(() => {});
		client.on(Boom, () => {
			throw new Error('handler bug');
		});
		peer.deliver('boom', 1);
		await vi.waitUntil(() => report.mock.calls.length > 0, { timeout: 5_000 });
		expect(report.mock.calls[0]).toContainEqual(new Error('handler bug'));
	});
});

describe('the API of seed 002', () => {
	it('is all there', () => {
		const client = new SocketClient('ws://127.0.0.1:9', { WebSocket: WebSocket as never });
		for (const method of [
			'connect',
			'disconnect',
			'on',
			'emit',
			'send',
			'sendRaw',
			'joinRoom',
			'leaveRoom',
			'clearRooms',
			'onStateChange',
			'onError'
		] as const) {
			expect(typeof client[method], method).toBe('function');
		}
		expect(client.joinedRooms).toEqual(new Set());
		expect(client.isConnected).toBe(false);
		expect(client.connectionState).toBe('disconnected');
	});
});

describe('Connected after rejoins from a position', () => {
	it('does not wait for the answer of a room left before it came', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url);
		const leave = client.joinRoom('project:7', { offset: 3, epoch: 'e1' });
		const onConnected = vi.fn();
		client.on(Connected, onConnected);
		client.connect();
		const peer = await server.connection(0);
		await peer.waitForFrame((frame) => frame.includes('room.join'));
		expect(onConnected).not.toHaveBeenCalled();
		const connected = nextEvent(client, Connected);
		leave();
		expect(await connected).toEqual({ reconnected: false, recovered: true });
		expect(onConnected).toHaveBeenCalledTimes(1);
	});
	it('does not wait for the answers of rooms cleared before they came', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url);
		client.joinRoom('project:7', { offset: 3, epoch: 'e1' });
		client.joinRoom('project:8', { offset: 1, epoch: 'e1' });
		client.connect();
		const peer = await server.connection(0);
		await peer.waitForFrames(2);
		const connected = nextEvent(client, Connected);
		client.clearRooms();
		expect(await connected).toEqual({ reconnected: false, recovered: true });
		expect(errorsOf(client)).toEqual([]);
	});
});
