import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { createSocketServer, MemoryEngine, type Engine } from '../../../src/lib/server/index.js';
import { ClientMessage } from '../../../src/lib/index.js';
import type { TickData } from '../messages.js';
import type { BenchServer } from './bench-server.js';
import { packageVersion } from './package-version.js';

const Tick = ClientMessage.define<TickData>('tick');

/**
 * runesocket's server (from the working tree's src/lib) on `engine`: clients join with `room.join`,
 * a publish is `server.publish(Tick, data, { room })`. The rate limit is off because the load
 * clients only join; everything else is the default.
 */
async function startRunesocket(engine: Engine): Promise<BenchServer> {
	const sockets = createSocketServer({
		engine,
		routes: [{ path: '/ws', origins: 'any', rateLimit: false }]
	});
	const http = createServer((_, response) => response.writeHead(404).end());
	sockets.attach(http);
	await Promise.all([
		sockets.ready(),
		new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
	]);
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

/**
 * runesocket on `MemoryEngine`: one process.
 *
 * @example
 * const server = await startRunesocketMemory(); // clients connect to /ws and send room.join
 */
export function startRunesocketMemory(): Promise<BenchServer> {
	return startRunesocket(new MemoryEngine());
}

/**
 * runesocket on `RedisEngine` with its defaults (history of 100 per room), keys and channels under
 * `prefix`: processes started with the same prefix share rooms. `url` may name a Redis Cluster
 * (`redis-cluster://host:port,…`).
 *
 * @example
 * const server = await startRunesocketRedis({ url: 'redis://127.0.0.1:6390', prefix: 'bench:1:' });
 */
export function startRunesocketRedis({
	url,
	prefix
}: {
	url: string;
	prefix: string;
}): Promise<BenchServer> {
	return startRunesocket(new RedisEngine({ redis: url, prefix }));
}
