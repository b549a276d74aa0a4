/**
 * A runesocket server in a process of its own for the exactly-once fault tests
 * (tests/integration/redis/request-keys-processes.test.ts): one route `/ws` (any origin,
 * first-message auth by `<user id>:<name>` tokens, so a user's requests share one scope on every
 * process), its engine a `RedisEngine` on `REDIS_URL`. Its one handler, `Apply`, prints
 * `started <key>`, may wait for the test (`hold`) or work a while (`work` ms), then does its side
 * effect, appending `<key>` to `EFFECTS_FILE`, and answers `{ run, pid }`.
 *
 * Env: REDIS_URL, EFFECTS_FILE, LEASE_MS (the route's `requestKeys.lease`), PORT (0).
 * HTTP: `POST /release?key=<key>` lets a held handler (or the next one of that key) go on;
 * `GET /health` → `{ healthy }` (the engine's). Prints `Listening on <port>`; SIGTERM closes it.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { createSocketServer, type RouteOptions } from '../../../src/lib/server/index.js';
import { tokenUserAuth, type TokenUser } from '../token-users.js';
import { Apply, KEYED_PATH, type ApplyAnswer } from './keyed-messages.js';
import { serveInChild } from './child-server.js';

const effects = process.env.EFFECTS_FILE!;
const engine = new RedisEngine({
	redis: process.env.REDIS_URL!,
	onError: (error) => console.error(`engine: ${error.message}`)
});
const route: RouteOptions<TokenUser> = {
	path: KEYED_PATH,
	origins: 'any',
	firstMessageAuth: tokenUserAuth,
	requestKeys: { lease: Number(process.env.LEASE_MS ?? 30_000) },
	onError: (_connection, error) => console.error(`route: ${error.message}`)
};
const sockets = createSocketServer({ engine, routes: [route as RouteOptions] });

/** Keys the test released, and the held handlers waiting for theirs. */
const released = new Set<string>();
const waiting = new Map<string, () => void>();

function held(key: string): Promise<void> {
	if (released.has(key)) return Promise.resolve();
	return new Promise((resolve) => waiting.set(key, resolve));
}

sockets.on(Apply, async (_connection, data, reply) => {
	const key = reply.key ?? '';
	console.log(`started ${key}`);
	if (data.hold) await held(key);
	if (data.work) await delay(data.work);
	appendFileSync(effects, `${key}\n`);
	const answer: ApplyAnswer = { run: randomUUID(), pid: process.pid };
	reply(answer);
});

function answer(request: IncomingMessage, response: ServerResponse): void {
	const url = new URL(request.url ?? '/', 'http://localhost');
	if (url.pathname == '/health') {
		response.writeHead(200, { 'content-type': 'application/json' });
		return void response.end(JSON.stringify({ healthy: engine.healthy }));
	}
	if (request.method != 'POST' || url.pathname != '/release')
		return void response.writeHead(404).end();
	const key = url.searchParams.get('key') ?? '';
	released.add(key);
	waiting.get(key)?.();
	waiting.delete(key);
	response.writeHead(204).end();
}

await serveInChild({ name: 'keyed-server', sockets, answer });
