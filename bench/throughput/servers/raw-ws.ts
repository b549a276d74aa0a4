import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { TickData } from '../messages.js';
import type { BenchServer } from './bench-server.js';
import { packageVersion } from './package-version.js';

interface Member {
	socket: WebSocket;
	/** The TCP socket under it, which the corked variant corks for the rest of the turn. */
	transport: Duplex;
}

/**
 * Raw `ws`: rooms are sets of sockets, a publish stringifies once and sends to each member. With
 * `corked`, the first write to a socket in a turn corks its TCP socket and one `process.nextTick`
 * uncorks every corked socket, so all a turn sends to a socket leaves in one write.
 *
 * @example
 * const server = await startRawWs({ corked: true }); // clients connect to /?room=room-0
 */
export async function startRawWs({ corked }: { corked: boolean }): Promise<BenchServer> {
	const rooms = new Map<string, Set<Member>>();
	const corkedThisTurn = new Set<Duplex>();
	const uncorkAll = (): void => {
		for (const transport of corkedThisTurn) transport.uncork();
		corkedThisTurn.clear();
	};
	const wss = new WebSocketServer({ noServer: true });
	const http = createServer((_, response) => response.writeHead(404).end());
	http.on('upgrade', (request: IncomingMessage, transport: Duplex, head: Buffer) => {
		const room = new URL(request.url ?? '/', 'http://localhost').searchParams.get('room') ?? '';
		wss.handleUpgrade(request, transport, head, (socket) => {
			const member = { socket, transport };
			const members = rooms.get(room) ?? new Set<Member>();
			rooms.set(room, members.add(member));
			socket.on('close', () => members.delete(member));
		});
	});
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	return {
		port: (http.address() as AddressInfo).port,
		version: packageVersion('ws'),
		publish(room, data: TickData) {
			const text = JSON.stringify({ name: 'tick', data });
			for (const { socket, transport } of rooms.get(room) ?? []) {
				if (corked && !corkedThisTurn.has(transport)) {
					if (corkedThisTurn.size == 0) process.nextTick(uncorkAll);
					transport.cork();
					corkedThisTurn.add(transport);
				}
				socket.send(text);
			}
		},
		async close() {
			for (const client of wss.clients) client.terminate();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		}
	};
}
