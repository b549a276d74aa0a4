import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import {
	createSocketServer,
	type SocketServer,
	type SocketServerOptions
} from '../../../src/lib/server/index.js';
import { within } from '../wait.js';

/** A runesocket server attached to a real HTTP server on 127.0.0.1. */
export interface RunningServer {
	readonly sockets: SocketServer;
	readonly http: Server;
	readonly port: number;
	/** `ws://127.0.0.1:<port><path>` */
	url(path?: string): string;
	stop(): Promise<void>;
}

const running: RunningServer[] = [];

afterEach(async () => {
	await Promise.all(running.splice(0).map((server) => server.stop()));
});

/** Starts a socket server on a free port (routes keep their own origin policy), stopped after the test. */
export async function startSocketServer(
	options: SocketServerOptions,
	port = 0
): Promise<RunningServer> {
	const sockets = createSocketServer(options);
	const http = createServer((_request, response) => response.writeHead(404).end());
	sockets.attach(http);
	await within(
		new Promise<void>((resolve, reject) => {
			http.once('error', reject);
			http.listen(port, '127.0.0.1', resolve);
		}),
		'the HTTP server to listen'
	);
	let stopped: Promise<void> | undefined;
	const server: RunningServer = {
		sockets,
		http,
		port: (http.address() as AddressInfo).port,
		url: (path = '/ws') => `ws://127.0.0.1:${server.port}${path}`,
		stop: () =>
			(stopped ??= (async () => {
				await sockets.close();
				http.closeAllConnections();
				await new Promise<void>((resolve) => http.close(() => resolve()));
			})())
	};
	running.push(server);
	return server;
}
