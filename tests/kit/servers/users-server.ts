/**
 * A runesocket server in a process of its own, for the revocation and per-user limit tests
 * (tests/integration/redis/user-revocation.test.ts): one route `/ws` (any origin) authenticating by
 * first message with `<user id>:<name>` tokens, its engine a `RedisEngine` on `REDIS_URL` (a
 * `redis-cluster://` URL for a cluster). `MAX_PER_USER` sets the route's `maxConnectionsPerUser`,
 * `PRESENCE_TTL_MS` the engine's `presenceTtl` (how long a dead process's slots live). Its
 * `authorizeJoin` refuses the rooms banned on this process. Prints `Listening on <port>`; SIGTERM
 * closes it cleanly.
 *
 * HTTP, for the test to drive it:
 * - `POST /disconnect?user=<id>` → `sockets.disconnectUser(id)`, answered once it resolved;
 * - `POST /reauthorize?user=<id>` → `sockets.reauthorizeUser(id)`;
 * - `POST /ban?user=<id>&room=<room>` → `authorizeJoin` refuses that room to that user from now on;
 * - `GET /stats` → `{ connections: [user ids of the open, authenticated connections], metrics }`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { createSocketServer, type RouteOptions } from '../../../src/lib/server/index.js';
import { tokenUserAuth, type TokenUser } from '../token-users.js';
import { serveInChild } from './child-server.js';

const engine = new RedisEngine({
	redis: process.env.REDIS_URL!,
	presenceTtl: process.env.PRESENCE_TTL_MS ? Number(process.env.PRESENCE_TTL_MS) : undefined
});
const banned = new Set<string>();

const route: RouteOptions<TokenUser> = {
	path: '/ws',
	origins: 'any',
	firstMessageAuth: tokenUserAuth,
	maxConnectionsPerUser: process.env.MAX_PER_USER ? Number(process.env.MAX_PER_USER) : undefined,
	authorizeJoin: (connection, room) => !banned.has(`${connection.userId}/${room}`)
};
const sockets = createSocketServer({ engine, routes: [route as RouteOptions] });

async function answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
	const url = new URL(request.url ?? '/', 'http://localhost');
	const user = url.searchParams.get('user') ?? '';
	if (url.pathname == '/stats') {
		const connections = [...sockets.connections]
			.filter((connection) => connection.authenticated && connection.isOpen)
			.map((connection) => connection.userId);
		const body = JSON.stringify({ connections, metrics: sockets.metricsSnapshot() });
		return void response.writeHead(200, { 'content-type': 'application/json' }).end(body);
	}
	if (request.method != 'POST') return void response.writeHead(404).end();
	if (url.pathname == '/disconnect') await sockets.disconnectUser(user);
	else if (url.pathname == '/reauthorize') await sockets.reauthorizeUser(user);
	else if (url.pathname == '/ban') banned.add(`${user}/${url.searchParams.get('room')}`);
	else return void response.writeHead(404).end();
	response.writeHead(204).end();
}

await serveInChild({
	name: 'users-server',
	sockets,
	answer: (request, response) => {
		answer(request, response).catch((error: unknown) => {
			response.writeHead(500).end(String(error));
		});
	}
});
