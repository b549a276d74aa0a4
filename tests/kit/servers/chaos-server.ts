/**
 * A runesocket server in a process of its own, for the chaos and fault tests: an HTTP server with
 * one socket route `/ws` (any origin) on 127.0.0.1. Its engine is a `RedisEngine` on `REDIS_URL`
 * (history: the last `HISTORY_SIZE` messages per room, default 10 000) when that is set, else a
 * `MemoryEngine`. Prints `Listening on <port>` once it accepts connections; SIGTERM (or SIGINT)
 * closes it cleanly and exits 0.
 *
 * `GET /stats` answers `{ pid, rss, maxStallMs, maxDelayMs, connections }` (the loop's maxima since
 * the previous call): a process that does not answer it is hung. `HEARTBEAT_MS` sets the route's
 * liveness ping (default the server's); with `LOG_CLOSES=1` every closed connection prints
 * `closed <code>`. With `PRESENCE=1` the route authenticates by first message (token
 * `<user id>:<name>`) and keeps presence in every room, showing `{ name }`; `PRESENCE_TTL_MS` sets the
 * Redis engine's `presenceTtl`, `PRESENCE_GRACE_MS` the route's `presence.grace`.
 *
 * Usage: PORT=<port, default 0 = any free one> REDIS_URL=redis://127.0.0.1:<port> npx tsx tests/kit/servers/chaos-server.ts
 * (tests/kit/servers/chaos-server-process.ts runs it as `node --import tsx …`: one process, so a SIGKILL
 * kills the server itself, not a wrapper around it.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import {
	createSocketServer,
	MemoryEngine,
	type Engine,
	type RouteOptions
} from '../../../src/lib/server/index.js';
import { LoopProbe } from '../attack/loop-probe.js';
import { presentAs, tokenUserAuth, type TokenUser } from '../token-users.js';
import { serveInChild } from './child-server.js';

const redisUrl = process.env.REDIS_URL;
const engine: Engine = redisUrl
	? new RedisEngine({
			redis: redisUrl,
			history: { size: Number(process.env.HISTORY_SIZE ?? 10_000) },
			presenceTtl: process.env.PRESENCE_TTL_MS ? Number(process.env.PRESENCE_TTL_MS) : undefined
		})
	: new MemoryEngine();

const heartbeat = process.env.HEARTBEAT_MS ? Number(process.env.HEARTBEAT_MS) : undefined;
const logCloses = process.env.LOG_CLOSES == '1';

/** Users are `id:name` tokens; presence shows the name. */
const presence: Partial<RouteOptions<TokenUser>> =
	process.env.PRESENCE == '1'
		? {
				firstMessageAuth: tokenUserAuth,
				presence: {
					member: presentAs,
					grace: process.env.PRESENCE_GRACE_MS ? Number(process.env.PRESENCE_GRACE_MS) : undefined
				}
			}
		: {};

const sockets = createSocketServer({
	engine,
	routes: [
		{
			path: '/ws',
			origins: 'any',
			heartbeat,
			onClose: logCloses ? (_connection, code) => console.log(`closed ${code}`) : undefined,
			...(presence as Partial<RouteOptions>)
		}
	]
});

const probe = new LoopProbe();
probe.start();

function answer(request: IncomingMessage, response: ServerResponse): void {
	if (request.url != '/stats') return void response.writeHead(404).end();
	const { maxStallMs, maxDelayMs } = probe.take();
	const stats = {
		pid: process.pid,
		rss: process.memoryUsage().rss,
		maxStallMs,
		maxDelayMs,
		connections: sockets.connections.size
	};
	response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(stats));
}

await serveInChild({ name: 'chaos-server', sockets, answer, beforeStop: () => probe.stop() });
