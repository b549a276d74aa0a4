import { afterEach } from 'vitest';
import WebSocket from 'ws';
import { SocketClient, type SocketClientOptions, type SocketError } from '../../src/lib/index.js';
import { type UrlSource } from '../../src/lib/client/socket-client.js';
import type { TestServer } from './servers/ws-server.js';

const clients: SocketClient[] = [];
const servers: TestServer[] = [];
const errors = new WeakMap<SocketClient, SocketError[]>();

afterEach(async () => {
	for (const client of clients.splice(0)) client.dispose();
	await Promise.all(servers.splice(0).map((server) => server.stop()));
});

/** A Node `SocketClient` on `ws`, disposed after the test; errors are collected, not logged. */
export function makeClient(url: UrlSource, options: SocketClientOptions = {}): SocketClient {
	const client = new SocketClient(url, { WebSocket, window: null, document: null, ...options });
	const reported: SocketError[] = [];
	client.onError((error) => reported.push(error));
	errors.set(client, reported);
	clients.push(client);
	return client;
}

/** Every error `client` reported so far. */
export function errorsOf(client: SocketClient): SocketError[] {
	return errors.get(client) ?? [];
}

/** Stops `server` after the test (unless the test already did). */
export function track(server: TestServer): TestServer {
	servers.push(server);
	return server;
}
