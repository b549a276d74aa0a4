import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { envelopeDialect, ERROR_MESSAGE, JOINED_MESSAGE } from '../../src/lib/protocol/envelope.js';
import type { ClientProtocol } from './contenders.js';
import type { TickData } from './messages.js';

/**
 * What a load client tells its owner: every tick it receives, any other message after it joined
 * (by name: a server telling a client its room was reset would otherwise go unseen), and that it
 * closed.
 *
 * @example
 * const listener: ClientListener = { tick: (data) => counter.receive(data), other: (name) => others.push(name), closed: () => closed++ };
 */
export interface ClientListener {
	tick(data: TickData): void;
	other(name: string): void;
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
	if (protocol == 'runesocket') return connectRunesocket(port, room, listener);
	return new Promise((resolve, reject) => {
		const socket = new WebSocket(`ws://127.0.0.1:${port}/?room=${encodeURIComponent(room)}`);
		socket.on('error', reject);
		socket.on('close', () => listener.closed());
		socket.on('open', () => resolve());
		socket.on('message', (raw) => {
			const message = JSON.parse(raw.toString()) as { name?: string; data?: unknown };
			if (message.name == 'tick') listener.tick(message.data as TickData);
			else listener.other(String(message.name));
		});
	});
}

/** A message's name, with `recovered` when it says so (a `room.joined` after a reset says false). */
function describe(name: string, data: unknown): string {
	const recovered = (data as { recovered?: unknown } | undefined)?.recovered;
	return typeof recovered == 'boolean' ? `${name} (recovered: ${recovered})` : name;
}

/** A runesocket client reads frames with the protocol's own decoder, whatever the wire format is now. */
function connectRunesocket(port: number, room: string, listener: ClientListener): Promise<void> {
	return new Promise((resolve, reject) => {
		const socket = new WebSocket(`ws://127.0.0.1:${port}/ws`);
		socket.on('error', reject);
		socket.on('close', () => listener.closed());
		let joined = false;
		socket.on('open', () => socket.send(envelopeDialect.join(room)));
		socket.on('message', (raw) => {
			const message = envelopeDialect.decode(raw.toString());
			if (!message) return;
			if (message.name == 'tick') listener.tick(message.data as TickData);
			else if (joined) listener.other(describe(message.name, message.data));
			else if (message.name == JOINED_MESSAGE) {
				joined = true;
				resolve();
			} else if (message.name == ERROR_MESSAGE) reject(new Error(raw.toString()));
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
		socket.onAny((name: string) => {
			if (name != 'tick' && name != 'joined') listener.other(name);
		});
	});
}
