import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSocketServer, defineRoute, MemoryEngine } from '../../../src/lib/server/index.js';
import { packageVersion } from '../../throughput/servers/package-version.js';
import { userOfToken, type BenchUser, type ConnectionServer } from './bench-server.js';

/**
 * runesocket from the working tree on `MemoryEngine`, with every default but the origin check: a
 * first-message token route (`{"name":"auth","data":{"token":…}}`), then `room.join`, answered
 * `room.joined`. The rate limit, heartbeat and pending-auth cap stay on, as an app would run it.
 *
 * @example
 * const server = await startRunesocket(); // ws://127.0.0.1:<port>/ws, auth frame, then room.join
 */
export async function startRunesocket(): Promise<ConnectionServer> {
	const route = defineRoute<BenchUser>({
		path: '/ws',
		origins: 'any',
		firstMessageAuth: {
			verify(token) {
				const user = userOfToken(token);
				return user ? { success: true, data: user } : { success: false };
			}
		}
	});
	const sockets = createSocketServer({ engine: new MemoryEngine(), routes: [route] });
	const http = createServer((_, response) => response.writeHead(404).end());
	sockets.attach(http);
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	return {
		port: (http.address() as AddressInfo).port,
		version: `ws ${packageVersion('ws')}, working tree`,
		openConnections: () => sockets.connections.size,
		async close() {
			await sockets.close();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		}
	};
}
