import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientMessage, createSocketServer, MemoryEngine } from '../../../src/lib/server/index.js';
import type { TickData } from '../messages.js';
import type { BenchServer } from './bench-server.js';
import { packageVersion } from './package-version.js';

const Tick = ClientMessage.define<TickData>('tick');

/**
 * runesocket's server on `MemoryEngine` (from the working tree's src/lib): clients join with
 * `room.join`, a publish is `server.publish(Tick, data, { room })`. The rate limit is off because the
 * load clients only join; everything else is the default.
 *
 * @example
 * const server = await startRunesocketMemory(); // clients connect to /ws and send room.join
 */
export async function startRunesocketMemory(): Promise<BenchServer> {
	const sockets = createSocketServer({
		engine: new MemoryEngine(),
		routes: [{ path: '/ws', origins: 'any', rateLimit: false }]
	});
	const http = createServer((_, response) => response.writeHead(404).end());
	sockets.attach(http);
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	return {
		port: (http.address() as AddressInfo).port,
		version: `${packageVersion('ws')} (ws), working tree`,
		publish: (room, data) => sockets.publish(Tick, data, { room }),
		async close() {
			await sockets.close();
			await new Promise<void>((resolve) => http.close(() => resolve()));
		}
	};
}
