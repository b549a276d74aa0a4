import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { ClientProtocol } from './messages.js';

/**
 * An open, authenticated client in its room; `close` resolves once it is closed on this side.
 *
 * @example
 * const client = await openClient('raw-ws', port, 7, 'room-7');
 * await client.close();
 */
export interface OpenClient {
	close(): Promise<void>;
}

/** A client that has not answered its join within this long has failed. */
const JOIN_TIMEOUT_MS = 30_000;

/**
 * Opens client number `index` to a contender on 127.0.0.1 with the token `token-<index>`, and
 * resolves once the server answered its join of `room`. Each protocol does what its own client would:
 * raw `ws` puts the token in the query and sends `{"join": room}` once open; runesocket sends its
 * `auth` frame and its `room.join` at once (as `SocketClient` does on every connect); Socket.IO
 * passes the token in its handshake `auth` and emits `join` with an acknowledgement once connected.
 *
 * @example
 * await openClient('runesocket', port, 0, 'room-0');
 */
export function openClient(
	protocol: ClientProtocol,
	port: number,
	index: number,
	room: string
): Promise<OpenClient> {
	const token = `token-${index}`;
	const opened =
		protocol == 'socket.io' ? openSocketIo(port, token, room) : openWs(protocol, port, token, room);
	return withTimeout(opened, `client ${index} (${protocol}) did not join ${room}`);
}

function withTimeout<Value>(promise: Promise<Value>, what: string): Promise<Value> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(
			() => reject(new Error(`${what} within ${JOIN_TIMEOUT_MS} ms`)),
			JOIN_TIMEOUT_MS
		);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function openWs(
	protocol: 'raw-ws' | 'runesocket',
	port: number,
	token: string,
	room: string
): Promise<OpenClient> {
	const url =
		protocol == 'raw-ws'
			? `ws://127.0.0.1:${port}/?token=${encodeURIComponent(token)}`
			: `ws://127.0.0.1:${port}/ws`;
	const socket = new WebSocket(url);
	const client: OpenClient = { close: () => closeWs(socket) };
	return new Promise((resolve, reject) => {
		socket.on('error', reject);
		socket.on('close', (code) => reject(new Error(`closed with ${code} before joining`)));
		socket.on('open', () => {
			if (protocol == 'raw-ws') return socket.send(JSON.stringify({ join: room }));
			socket.send(JSON.stringify({ name: 'auth', data: { token } }));
			socket.send(JSON.stringify({ name: 'room.join', data: { room } }));
		});
		socket.on('message', (raw) => {
			const message = JSON.parse(raw.toString()) as Record<string, unknown>;
			if (message.joined == room || message.name == 'room.joined') resolve(client);
			else if (message.name == 'error') reject(new Error(raw.toString()));
		});
	});
}

function closeWs(socket: WebSocket): Promise<void> {
	if (socket.readyState == WebSocket.CLOSED) return Promise.resolve();
	return new Promise((resolve) => {
		socket.once('close', () => resolve());
		socket.close();
	});
}

function openSocketIo(port: number, token: string, room: string): Promise<OpenClient> {
	const socket: Socket = io(`http://127.0.0.1:${port}`, {
		transports: ['websocket'],
		auth: { token },
		reconnection: false,
		forceNew: true
	});
	const client: OpenClient = {
		async close() {
			socket.disconnect();
		}
	};
	return new Promise((resolve, reject) => {
		socket.on('connect_error', reject);
		socket.on('connect', () => {
			socket.emit('join', room, (joined: unknown) => {
				if (joined == room) resolve(client);
				else reject(new Error(`joined ${String(joined)} instead of ${room}`));
			});
		});
	});
}
