import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { WebSocketServer } from 'ws';
import { ClientMessage } from '../../src/lib/index.js';
import { RedisEngine } from '../../src/lib/redis/index.js';
import {
	createSocketServer,
	defineRoute,
	MemoryEngine,
	type Engine
} from '../../src/lib/server/index.js';
import { userOfToken, type BenchUser } from '../connections/servers/bench-server.js';
import { packageVersion } from '../throughput/servers/package-version.js';
import type { ServerKind } from './messages.js';

/**
 * A contender's server in the server process: its port, how many times its handler ran, and how to
 * stop it.
 *
 * @example
 * const server = await startServer('ws');
 * console.log(server.port, server.handled());
 */
export interface RequestServer {
	port: number;
	version: string;
	/** Handler runs so far (a repeat of a kept key runs none). */
	handled(): number;
	close(): Promise<void>;
}

/** The data every request carries and every answer echoes. */
export interface EchoData {
	n: number;
	text: string;
}

const Echo = ClientMessage.define<EchoData>('echo');

function listen(http: ReturnType<typeof createServer>): Promise<number> {
	return new Promise((resolve) =>
		http.listen(0, '127.0.0.1', () => resolve((http.address() as AddressInfo).port))
	);
}

/**
 * Raw `ws` as an application would answer requests: each frame is parsed as JSON and answered
 * `{"id", "data"}` with its id and data.
 */
async function startRawWs(): Promise<RequestServer> {
	const http = createServer((_, response) => response.writeHead(404).end());
	const wss = new WebSocketServer({ server: http });
	let handled = 0;
	wss.on('connection', (ws) => {
		ws.on('message', (raw) => {
			const { id, data } = JSON.parse(raw.toString()) as { id?: unknown; data?: unknown };
			handled++;
			ws.send(JSON.stringify({ id, data }));
		});
	});
	return {
		port: await listen(http),
		version: `ws ${packageVersion('ws')}`,
		handled: () => handled,
		async close() {
			for (const ws of wss.clients) ws.terminate();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		}
	};
}

/** Socket.IO on the websocket transport only: an `echo` event acknowledged with its data. */
async function startSocketIo(): Promise<RequestServer> {
	const http = createServer();
	const io = new Server(http, { transports: ['websocket'], serveClient: false });
	let handled = 0;
	io.on('connection', (socket) => {
		socket.on('echo', (data: unknown, acknowledge: unknown) => {
			if (typeof acknowledge != 'function') return;
			handled++;
			acknowledge(data);
		});
	});
	return {
		port: await listen(http),
		version: `socket.io ${packageVersion('socket.io')}`,
		handled: () => handled,
		close: () => io.close()
	};
}

/**
 * runesocket from the working tree on `engine`: a route authenticating the upgrade by its
 * `?token=token-<n>` (user `user-<n>`, so keys are kept per user, in the engine), with the rate
 * limit off (each client sends far more than its default 20 a second) and every other default,
 * request keys included; `echo` is answered with its data.
 */
async function startRunesocket(engine: Engine): Promise<RequestServer> {
	const route = defineRoute<BenchUser>({
		path: '/ws',
		origins: 'any',
		rateLimit: false,
		authenticate(request) {
			const url = new URL(request.url ?? '/', 'http://localhost');
			const user = userOfToken(url.searchParams.get('token'));
			return user ? { success: true, data: user } : { success: false };
		}
	});
	const sockets = createSocketServer({ engine, routes: [route] });
	let handled = 0;
	sockets.on(Echo, (_, data, reply) => {
		handled++;
		reply(data);
	});
	const http = createServer((_, response) => response.writeHead(404).end());
	sockets.attach(http);
	const [, port] = await Promise.all([sockets.ready(), listen(http)]);
	return {
		port,
		version: `ws ${packageVersion('ws')}, working tree`,
		handled: () => handled,
		async close() {
			await sockets.close();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		}
	};
}

/**
 * Starts the server of `kind` on a free port of 127.0.0.1; runesocket on Redis uses `redis` (its
 * URL and the prefix of its keys).
 *
 * @example
 * const server = await startServer('runesocket redis', { url: 'redis://127.0.0.1:6390', prefix: 'bench:r1:' });
 */
export function startServer(
	kind: ServerKind,
	redis?: { url: string; prefix: string }
): Promise<RequestServer> {
	if (kind == 'ws') return startRawWs();
	if (kind == 'socket.io') return startSocketIo();
	if (kind == 'runesocket memory') return startRunesocket(new MemoryEngine());
	if (!redis) throw new Error('runesocket redis needs a Redis URL (BENCH_REDIS_URL)');
	return startRunesocket(new RedisEngine({ redis: redis.url, prefix: redis.prefix }));
}
