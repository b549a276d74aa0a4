import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server } from 'socket.io';
import { packageVersion } from '../../throughput/servers/package-version.js';
import { userOfToken, type ConnectionServer } from './bench-server.js';

/**
 * Socket.IO on the websocket transport only: an auth middleware checks `handshake.auth.token` and
 * keeps the user in `socket.data`; a `join` event with an acknowledgement puts the socket in a room.
 *
 * @example
 * const server = await startSocketIo(); // io(url, { auth: { token } }).emit('join', 'room-1', ack)
 */
export async function startSocketIo(): Promise<ConnectionServer> {
	const http = createServer();
	const io = new Server(http, { transports: ['websocket'], serveClient: false });
	io.use((socket, next) => {
		const user = userOfToken((socket.handshake.auth as { token?: unknown }).token);
		if (!user) return next(new Error('unauthorized'));
		socket.data.user = user;
		next();
	});
	io.on('connection', (socket) => {
		socket.on('join', (room: unknown, acknowledge: unknown) => {
			if (typeof room != 'string' || typeof acknowledge != 'function') return;
			void socket.join(room);
			acknowledge(room);
		});
	});
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	return {
		port: (http.address() as AddressInfo).port,
		version: `socket.io ${packageVersion('socket.io')}`,
		openConnections: () => io.engine.clientsCount,
		async close() {
			await io.close();
		}
	};
}
