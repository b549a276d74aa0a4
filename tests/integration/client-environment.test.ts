import { describe, expect, it } from 'vitest';
import { Disconnected, ReconnectAttempt } from '../../src/lib/index.js';
import { errorsOf, makeClient, track } from '../kit/clients.js';
import { nextEvent, reachState } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';
import { FakeDocument, FakeWindow, PageTransition } from '../kit/page.js';

// Browser events a Node test cannot cause for real are dispatched on stand-in targets; the socket
// and the server stay real. The real-browser version of the offline case is in tests/e2e.

async function setup(options = {}) {
	const server = track(await TestServer.start());
	const window = new FakeWindow();
	const document = new FakeDocument();
	// A backoff this long means any quick reconnect below was caused by the page event itself.
	const client = makeClient(server.url, {
		window,
		document,
		reconnectDelay: 60_000,
		maxReconnectDelay: 60_000,
		...options
	});
	const attempts: { attempt: number; delay: number }[] = [];
	client.on(ReconnectAttempt, (attempt) => attempts.push(attempt));
	client.connect();
	await reachState(client, 'connected');
	return { server, window, document, client, attempts };
}

function setVisibility(document: FakeDocument, state: 'visible' | 'hidden'): void {
	document.visibilityState = state;
	document.dispatchEvent(new Event('visibilitychange'));
}

describe('network', () => {
	it('offline closes the connection and waits; online reconnects at once', async () => {
		const { server, window, client, attempts } = await setup();
		const disconnected = nextEvent(client, Disconnected);
		window.navigator.onLine = false;
		window.dispatchEvent(new Event('offline'));
		expect(await disconnected).toMatchObject({ code: 1001, willReconnect: true });
		expect(client.connectionState).toBe('disconnected');
		expect((await server.peers[0].closed).code).toBe(1000);
		expect(attempts).toEqual([]);

		window.navigator.onLine = true;
		window.dispatchEvent(new Event('online'));
		expect(attempts).toEqual([{ attempt: 1, delay: 0 }]);
		await reachState(client, 'connected');
		expect(server.peers).toHaveLength(2);
	});
});

describe('starting offline', () => {
	it('connect() while offline waits for the network instead of failing an attempt', async () => {
		const server = track(await TestServer.start());
		const window = new FakeWindow();
		window.navigator.onLine = false;
		const client = makeClient(server.url, { window, document: new FakeDocument() });
		const attempts: { attempt: number; delay: number }[] = [];
		client.on(ReconnectAttempt, (attempt) => attempts.push(attempt));
		client.connect();
		expect(client.connectionState).toBe('disconnected');
		window.navigator.onLine = true;
		window.dispatchEvent(new Event('online'));
		expect(attempts).toEqual([{ attempt: 1, delay: 0 }]);
		await reachState(client, 'connected');
		expect(errorsOf(client)).toEqual([]);
		expect(server.peers).toHaveLength(1);
	});
});

describe('visibility', () => {
	it('a hidden page keeps its connection but does not reconnect until visible', async () => {
		const { server, document, client, attempts } = await setup();
		setVisibility(document, 'hidden');
		expect(client.connectionState).toBe('connected');
		const disconnected = nextEvent(client, Disconnected);
		server.peers[0].socket.close(1011);
		expect((await disconnected).willReconnect).toBe(true);
		expect(client.connectionState).toBe('disconnected');
		expect(attempts).toEqual([]);

		setVisibility(document, 'visible');
		expect(attempts).toEqual([{ attempt: 1, delay: 0 }]);
		await reachState(client, 'connected');
	});

	it('hiding the page cancels a reconnect that was waiting for its delay', async () => {
		const { server, document, client, attempts } = await setup();
		const disconnected = nextEvent(client, Disconnected);
		server.peers[0].socket.close(1011);
		await disconnected;
		expect(attempts).toHaveLength(1);
		expect(client.connectionState).toBe('reconnecting');
		setVisibility(document, 'hidden');
		expect(client.connectionState).toBe('disconnected');
		setVisibility(document, 'visible');
		expect(attempts[1]).toEqual({ attempt: 2, delay: 0 });
		await reachState(client, 'connected');
	});

	it('coming back to a visible page checks a live connection with a ping at once', async () => {
		const { server, document } = await setup({ heartbeatInterval: 60_000 });
		setVisibility(document, 'hidden');
		setVisibility(document, 'visible');
		await server.peers[0].waitForPings(1);
	});

	it('coming online while still hidden does not reconnect', async () => {
		const { server, window, document, client, attempts } = await setup();
		setVisibility(document, 'hidden');
		window.dispatchEvent(new Event('offline'));
		await server.peers[0].closed;
		window.dispatchEvent(new Event('online'));
		expect(attempts).toEqual([]);
		expect(client.connectionState).toBe('disconnected');
		setVisibility(document, 'visible');
		await reachState(client, 'connected');
	});
});

describe('back/forward cache', () => {
	it('closes on pagehide into the cache and reconnects on pageshow from it', async () => {
		const { server, window, client, attempts } = await setup();
		window.dispatchEvent(new PageTransition('pagehide', false));
		expect(client.connectionState).toBe('connected');

		const disconnected = nextEvent(client, Disconnected);
		window.dispatchEvent(new PageTransition('pagehide', true));
		expect((await disconnected).code).toBe(1001);
		await server.peers[0].closed;
		expect(attempts).toEqual([]);

		window.dispatchEvent(new PageTransition('pageshow', true));
		expect(attempts).toEqual([{ attempt: 1, delay: 0 }]);
		await reachState(client, 'connected');
	});
});

describe('pausedBy: paused or stopped', () => {
	it('says what the client waits for while disconnected, and nothing once stopped', async () => {
		const { server, window, document, client } = await setup();
		const states: [string, string | undefined][] = [];
		client.onStateChange((state) => states.push([state, client.pausedBy]));
		expect(client.pausedBy).toBeUndefined();

		setVisibility(document, 'hidden');
		server.peers[0].socket.close(1011);
		await reachState(client, 'disconnected');
		expect(client.pausedBy).toBe('hidden');

		window.navigator.onLine = false;
		window.dispatchEvent(new Event('offline'));
		expect(client.pausedBy).toBe('offline');
		window.navigator.onLine = true;
		window.dispatchEvent(new Event('online'));
		expect(client.pausedBy).toBe('hidden');

		client.disconnect();
		expect(client.connectionState).toBe('disconnected');
		expect(client.pausedBy).toBeUndefined();
		expect(states).toEqual([
			['disconnected', 'hidden'],
			['disconnected', 'offline'],
			['disconnected', 'hidden'],
			['disconnected', undefined]
		]);
	});

	it('is set from connect() on while the page starts offline', async () => {
		const server = track(await TestServer.start());
		const window = new FakeWindow();
		window.navigator.onLine = false;
		const client = makeClient(server.url, { window, document: new FakeDocument() });
		client.connect();
		expect(client.connectionState).toBe('disconnected');
		expect(client.pausedBy).toBe('offline');
	});
});
