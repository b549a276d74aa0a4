// @vitest-environment jsdom
import { flushSync, tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UseWebSocketReturn } from '../../../src/lib/compat/index.js';
import { track } from '../../kit/clients.js';
import { until, within } from '../../kit/wait.js';
import { TestServer } from '../../kit/servers/ws-server.js';
import UseWebSocket from '../../kit/svelte/components/UseWebSocket.svelte';
import { countListeners } from '../../kit/svelte/listeners.js';
import { destroy, render } from '../../kit/svelte/live.svelte.js';
import { WebSocket } from '../../kit/svelte/node-ws.js';

// The real `ws` (not its browser stub) for the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

afterEach(() => {
	vi.restoreAllMocks();
});

/** Mounts a component that calls `useWebSocket(config, options)`; returns the hook's object. */
function mountHook(
	config: { baseUrl: string; wsUrl?: string },
	options: Record<string, unknown> = {}
): { ws: UseWebSocketReturn; view: Record<string, unknown> } {
	let ws: UseWebSocketReturn | undefined;
	const view = render(UseWebSocket, {
		config,
		options: { WebSocket, ...options },
		onready: (hook) => (ws = hook)
	});
	return { ws: ws!, view };
}

describe('useWebSocket', () => {
	it('connects on mount with the token first; isConnected and lastMessage are reactive', async () => {
		const server = track(await TestServer.start());
		const { ws } = mountHook(
			{ baseUrl: `http://127.0.0.1:${server.port}` },
			{ accessToken: 't0k' }
		);
		const peer = await server.connection(0);
		expect(peer.request.url).toBe('/v1/ws');
		await until(() => ws.isConnected, 'isConnected');
		flushSync();
		expect(document.querySelector('p')?.dataset.connected).toBe('true');
		await peer.waitForFrames(1);
		expect(peer.frames[0]).toBe('t0k');

		peer.send({ type: 'rolesUpdated', roles: ['Admin'] });
		await until(() => ws.lastMessage !== undefined, 'lastMessage');
		expect(ws.lastMessage).toEqual({ type: 'rolesUpdated', roles: ['Admin'] });
		flushSync();
		expect(document.querySelector('p')?.textContent).toBe(
			'{"type":"rolesUpdated","roles":["Admin"]}'
		);

		expect(ws.send({ type: 'subscribe', channel: 'updates' })).toBe(true);
		await peer.waitForFrames(2);
		expect(peer.frames[1]).toBe('{"type":"subscribe","channel":"updates"}');
	});

	it('with immediate: false waits for connect(); disconnect() closes until the next connect()', async () => {
		const server = track(await TestServer.start());
		const { ws } = mountHook(
			{ baseUrl: 'http://unused.invalid', wsUrl: server.url },
			{ immediate: false }
		);
		await tick();
		expect(server.peers).toHaveLength(0);
		expect(ws.send({ early: true })).toBe(false);

		ws.connect();
		await until(() => ws.isConnected, 'isConnected');
		const peer = await server.connection(0);
		ws.disconnect();
		expect(ws.isConnected).toBe(false);
		expect(await within(peer.closed, 'the close')).toMatchObject({ code: 1000 });
		expect(ws.send({ late: true })).toBe(false);

		ws.connect();
		await until(() => ws.isConnected, 'isConnected again');
		await server.connection(1);
	});

	it('closes for good when its component is destroyed, leaving no listener on the page', async () => {
		const listening = countListeners(window, document);
		const server = track(await TestServer.start());
		const { ws, view } = mountHook({ baseUrl: 'http://unused.invalid', wsUrl: server.url });
		await until(() => ws.isConnected, 'isConnected');
		const peer = await server.connection(0);
		expect(listening()).toBeGreaterThan(0);
		destroy(view);
		flushSync();
		expect(await within(peer.closed, 'the close')).toMatchObject({ code: 1000 });
		expect(ws.isConnected).toBe(false);
		expect(listening()).toBe(0);
		expect(() => ws.connect()).toThrow(/dispose/);
	});
});
