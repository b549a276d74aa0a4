import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import type { TickData } from '../messages.js';
import type { BenchServer } from './bench-server.js';
import { packageVersion } from './package-version.js';

/**
 * Socket.IO on the websocket transport only: each client joins the room its handshake query names,
 * and a publish is `io.to(room).emit('tick', data)`.
 *
 * @example
 * const server = await startSocketIo(); // clients: io(url, { transports: ['websocket'], query: { room } })
 */
export async function startSocketIo(): Promise<BenchServer> {
	const http = createServer();
	const io = new Server(http, { transports: ['websocket'], serveClient: false });
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
			await io.close();
		}
	};
}
