import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { packageVersion } from '../../throughput/servers/package-version.js';
import { userOfToken, type BenchUser, type ConnectionServer } from './bench-server.js';

/**
 * Raw `ws` as an application would use it: the token in the upgrade URL's query is checked before
 * the upgrade (401 otherwise), the user is kept per socket, and a `{"join": room}` frame puts the
 * socket in that room's set and is answered `{"joined": room}`.
 *
 * @example
 * const server = await startRawWs(); // ws://127.0.0.1:<port>/?token=token-1, then {"join":"room-1"}
 */
export async function startRawWs(): Promise<ConnectionServer> {
	const http = createServer((_, response) => response.writeHead(404).end());
	const wss = new WebSocketServer({ noServer: true });
	const users = new WeakMap<WebSocket, BenchUser>();
	const rooms = new Map<string, Set<WebSocket>>();
	http.on('upgrade', (request, socket, head) => {
		const url = new URL(request.url ?? '/', 'http://localhost');
		const user = userOfToken(url.searchParams.get('token'));
		if (!user) return void socket.end('HTTP/1.1 401 Unauthorized\r\n\r\n');
		wss.handleUpgrade(request, socket, head, (ws) => {
			users.set(ws, user);
			ws.on('message', (data) => join(ws, data.toString()));
			ws.on('close', () => {
				for (const members of rooms.values()) members.delete(ws);
			});
		});
	});
	const join = (ws: WebSocket, frame: string): void => {
		const { join: room } = JSON.parse(frame) as { join?: unknown };
		if (typeof room != 'string') return;
		let members = rooms.get(room);
		if (!members) rooms.set(room, (members = new Set()));
		members.add(ws);
		ws.send(JSON.stringify({ joined: room }));
	};
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	return {
		port: (http.address() as AddressInfo).port,
		version: `ws ${packageVersion('ws')}`,
		openConnections: () => wss.clients.size,
		async close() {
			for (const ws of wss.clients) ws.terminate();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		}
	};
}
