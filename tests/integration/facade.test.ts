import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
	createWebSocket,
	type CloseInfo,
	type WebSocketClient
} from '../../src/lib/compat/index.js';
import { track } from '../kit/clients.js';
import { within } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';

const handles: WebSocketClient[] = [];

afterEach(() => {
	for (const handle of handles.splice(0)) handle.close();
});

function open(config: Parameters<typeof createWebSocket>[0], options = {}): WebSocketClient {
	const handle = createWebSocket(config, { WebSocket, ...options });
	handles.push(handle);
	return handle;
}

function opened(handle: WebSocketClient): Promise<void> {
	return within(new Promise<void>((resolve) => handle.onOpen(resolve)), 'onOpen');
}

describe('createWebSocket', () => {
	it('derives the URL from baseUrl (http→ws, /v1/ws) and sends the access token first', async () => {
		const server = track(await TestServer.start());
		const handle = open({ baseUrl: `http://127.0.0.1:${server.port}/` }, { accessToken: 'abc' });
		await opened(handle);
		const peer = await server.connection(0);
		expect(peer.request.url).toBe('/v1/ws');
		await peer.waitForFrames(1);
		expect(peer.frames[0]).toBe('abc');
		expect(handle.isOpen).toBe(true);
		expect(handle.isConnected).toBe(true);
		expect(handle.socket?.readyState).toBe(1);
	});

	it('prefers wsUrl, sends JSON, receives parsed data', async () => {
		const server = track(await TestServer.start());
		const handle = open({ baseUrl: 'http://unused.invalid', wsUrl: `${server.url}/live` });
		const received = new Promise<unknown>((resolve) => handle.onMessage(resolve));
		await opened(handle);
		const peer = await server.connection(0);
		expect(peer.request.url).toBe('/live');
		expect(handle.send({ type: 'subscribe', channel: 'updates' })).toBe(true);
		await peer.waitForFrames(1);
		expect(peer.frames[0]).toBe('{"type":"subscribe","channel":"updates"}');
		peer.send('{"type":"rolesUpdated","roles":["Admin"],"__proto__":{"isAdmin":true}}');
		expect(await within(received, 'a message')).toEqual({ type: 'rolesUpdated', roles: ['Admin'] });
	});

	it('send() returns false and queues nothing while closed', async () => {
		const server = track(await TestServer.start());
		const handle = open({ baseUrl: 'http://x', wsUrl: server.url });
		expect(handle.send({ early: true })).toBe(false);
		await opened(handle);
		handle.send({ late: true });
		const peer = await server.connection(0);
		await peer.waitForFrames(1);
		expect(peer.frames).toEqual(['{"late":true}']);
	});

	it('reconnects after a drop, reports closes, and stops for good on close()', async () => {
		const server = track(await TestServer.start());
		const handle = open({ baseUrl: 'http://x', wsUrl: server.url }, { reconnectDelay: 10 });
		const closes: CloseInfo[] = [];
		handle.onClose((event) => closes.push(event));
		await opened(handle);
		const reopened = opened(handle);
		(await server.connection(0)).socket.close(1011, 'restart');
		await reopened;
		expect(closes).toEqual([{ code: 1011, reason: 'restart', wasClean: true }]);
		handle.close();
		expect(handle.isOpen).toBe(false);
		expect((await server.peers[1].closed).code).toBe(1000);
		// For good: the server stays up, and over thirty reconnection delays nobody comes back.
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(server.peers).toHaveLength(2);
		expect(handle.isOpen).toBe(false);
	});

	it('gives up after maxReconnectAttempts, reporting each failure through onError', async () => {
		const server = await TestServer.start();
		const handle = open(
			{ baseUrl: 'http://x', wsUrl: server.url },
			{ reconnectDelay: 5, maxReconnectAttempts: 2 }
		);
		await opened(handle);
		const failures: string[] = [];
		const gaveUp = new Promise<void>((resolve) =>
			handle.onError((error) => {
				failures.push(error.kind);
				if (failures.length == 3) resolve();
			})
		);
		const { port } = server;
		await server.stop();
		// The dropped connection, then each of the two attempts.
		await within(gaveUp, 'the drop and two failed attempts');
		expect(failures).toEqual(['connect', 'connect', 'connect']);
		// Given up: a server back on the port sees no third attempt over sixty reconnection delays.
		const back = track(await TestServer.start(port));
		await new Promise((resolve) => setTimeout(resolve, 300));
		expect(back.peers).toHaveLength(0);
		expect(failures).toHaveLength(3);
	});

	it('needs a baseUrl or wsUrl', () => {
		expect(() => createWebSocket({ baseUrl: '' }, { WebSocket })).toThrow(TypeError);
	});
});
