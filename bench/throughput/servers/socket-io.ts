import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import type { TickData } from '../messages.js';
import type { BenchServer } from './bench-server.js';
import { packageVersion } from './package-version.js';

/**
 * Where a Socket.IO server shares its rooms with others: `@socket.io/redis-adapter` on two ioredis
 * connections, channels under `prefix`.
 *
 * @example
 * const redis: SocketIoRedis = { url: 'redis://127.0.0.1:6390', prefix: 'bench:1:' };
 */
export interface SocketIoRedis {
	url: string;
	prefix: string;
}

/**
 * Socket.IO on the websocket transport only: each client joins the room its handshake query names,
 * and a publish is `io.to(room).emit('tick', data)`. With `redis`, on `@socket.io/redis-adapter`, so
 * a publish reaches the room's members on every process of the same prefix.
 *
 * @example
 * const server = await startSocketIo(); // clients: io(url, { transports: ['websocket'], query: { room } })
 */
export async function startSocketIo(redis?: SocketIoRedis): Promise<BenchServer> {
	const http = createServer();
	const io = new Server(http, { transports: ['websocket'], serveClient: false });
	const connections: Redis[] = [];
	let closing = false;
	if (redis) {
		const publisher = new Redis(redis.url);
		const subscriber = publisher.duplicate();
		connections.push(publisher, subscriber);
		// Without a listener, ioredis prints a warning for each error; once shutting down they are expected.
		for (const connection of connections) {
			connection.on('error', (error: Error) => {
				if (!closing) console.error(`socket.io redis: ${error.message}`);
			});
		}
		io.adapter(createAdapter(publisher, subscriber, { key: `${redis.prefix}socket.io` }));
	}
	io.on('connection', (socket) => {
		const room = socket.handshake.query.room;
		if (typeof room == 'string') void socket.join(room);
		socket.emit('joined');
	});
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	return {
		port: (http.address() as AddressInfo).port,
		version: packageVersion('socket.io'),
		publish(room, data: TickData) {
			io.to(room).emit('tick', data);
		},
		async close() {
			closing = true;
			await io.close();
			await Promise.all(connections.map((connection) => connection.quit()));
		}
	};
}
