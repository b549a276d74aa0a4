import { io } from 'socket.io-client';
import WebSocket from 'ws';
import type { ClientProtocol } from './contenders.js';
import type { TickData } from './messages.js';

/**
 * What a load client tells its owner: every tick it receives, and that it closed.
 *
 * @example
 * const listener: ClientListener = { tick: (data) => counter.receive(data), closed: () => closed++ };
 */
export interface ClientListener {
	tick(data: TickData): void;
	closed(): void;
}

/**
 * Opens one load client to a contender on 127.0.0.1 and resolves once it is in `room` (for
 * runesocket, once `room.joined` arrived; for Socket.IO, once the server said it joined).
 *
 * @example
 * await connectClient('runesocket', port, 'room-3', { tick: (data) => count(data), closed: () => {} });
 */
export function connectClient(
	protocol: ClientProtocol,
	port: number,
	room: string,
	listener: ClientListener
): Promise<void> {
	if (protocol == 'socket.io') return connectSocketIo(port, room, listener);
	return new Promise((resolve, reject) => {
		const url =
			protocol == 'raw-ws'
				? `ws://127.0.0.1:${port}/?room=${encodeURIComponent(room)}`
				: `ws://127.0.0.1:${port}/ws`;
		const socket = new WebSocket(url);
		socket.on('error', reject);
		socket.on('close', () => listener.closed());
		socket.on('open', () => {
			if (protocol == 'raw-ws') resolve();
			else socket.send(JSON.stringify({ name: 'room.join', data: { room } }));
		});
		socket.on('message', (raw) => {
			const message = JSON.parse(raw.toString()) as { name?: string; data?: unknown };
			if (message.name == 'tick') listener.tick(message.data as TickData);
			else if (message.name == 'room.joined') resolve();
			else if (message.name == 'error') reject(new Error(raw.toString()));
		});
	});
}

function connectSocketIo(port: number, room: string, listener: ClientListener): Promise<void> {
	return new Promise((resolve, reject) => {
		const socket = io(`http://127.0.0.1:${port}`, {
			transports: ['websocket'],
			query: { room },
			reconnection: false,
			forceNew: true
		});
		socket.on('connect_error', reject);
		socket.on('disconnect', () => listener.closed());
		socket.on('joined', () => resolve());
		socket.on('tick', (data: TickData) => listener.tick(data));
	});
}
