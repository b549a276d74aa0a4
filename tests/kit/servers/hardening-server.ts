/**
 * The server the hardening suite attacks, in a process of its own so that what it measures is its
 * own event loop and memory, and so that a crash is a crash (no handler here swallows an uncaught
 * exception or an unhandled rejection: Node's default, exiting, is what the suite must notice).
 *
 * One HTTP server on 127.0.0.1 with the socket routes of tests/kit/servers/hardening-messages.ts
 * (`HardeningRoute`) and a control API the suite calls over plain HTTP:
 * - `GET /stats` (`?gc=1` collects garbage first): event-loop stalls, memory, connection counts;
 *   the maxima restart from zero after every call.
 * - `POST /feed/start?interval=<ms>` / `POST /feed/stop`: numbered `FeedItem`s to `FEED_ROOM`.
 * - `POST /bulk?room=<room>&count=<n>&size=<bytes>&every=<ms>`: `BulkItem`s, one every `every` ms
 *   (default: one per event-loop turn), to fill a slow reader's buffer.
 * - `POST /oversize?via=publish|to|broadcast&size=<bytes>`: one publish past `maxMessageSize`.
 * - `GET /rooms?id=<connection id>`: the rooms a connection is in.
 *
 * Env: PORT (0), MAX_CONNECTIONS, AUTH_TIMEOUT_MS, MAX_PENDING (the server's defaults when unset).
 * Prints `Listening on <port>`. Run as `node --expose-gc --import tsx tests/kit/servers/hardening-server.ts`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
	createSocketServer,
	defineRoute,
	type AuthResult,
	type Connection,
	type RouteOptions
} from '../../../src/lib/server/index.js';
import type { IncomingMessageFrame } from '../../../src/lib/server/options.js';
import {
	BulkItem,
	ConnectionFlag,
	Echo,
	Explode,
	FEED_ROOM,
	FeedItem,
	Hang,
	HardeningRoute,
	LONG_REASON,
	OnMessageFailure,
	Probe,
	Reject,
	RoomPrefix,
	SlowCheck,
	Boom,
	Token,
	UpgradeAuth
} from './hardening-messages.js';
import { LoopProbe } from '../attack/loop-probe.js';
import { serveInChild } from './child-server.js';

const numberFromEnv = (name: string): number | undefined =>
	process.env[name] ? Number(process.env[name]) : undefined;

/** What a first-message token turns into; `id` (its `userId`) only for expiring tokens. */
interface User {
	name: string;
	flags: readonly string[];
	id?: string;
}

const probe = new LoopProbe();
let errorsReported = 0;

function verify(token: string): AuthResult<User> | Promise<AuthResult<User>> {
	if (token == Token.throws) throw new Error('verify threw');
	if (token == Token.rejects) return Promise.reject(new Error('verify rejected'));
	if (token == Token.hangs) return new Promise(() => {});
	if (token == Token.longReason) return { success: false, reason: LONG_REASON };
	if (token == Token.customCode) return { success: false, code: 4100, reason: 'Custom refusal' };
	const [name, flags = '', user] = token.split(':');
	if (name == Token.expiring) {
		const data = { name, flags: [], id: user };
		return { success: true, data, expiresAt: Date.now() + Number(flags) };
	}
	if (name != Token.good) return { success: false, reason: 'Unknown token' };
	return { success: true, data: { name, flags: flags.split(',') } };
}

function hasFlag(connection: Connection<User>, flag: string): boolean {
	return connection.authData?.flags.includes(flag) ?? false;
}

async function authorizeJoin(_connection: Connection<unknown>, room: string): Promise<boolean> {
	if (room.startsWith(RoomPrefix.forbidden)) return false;
	if (room.startsWith(RoomPrefix.throws)) throw new Error('authorizeJoin threw');
	if (room.startsWith(RoomPrefix.rejects))
		return Promise.reject(new Error('authorizeJoin rejected'));
	if (room.startsWith(RoomPrefix.slow)) await new Promise((resolve) => setTimeout(resolve, 5));
	return true;
}

function authenticateUpgrade(
	request: IncomingMessage
): AuthResult<User> | Promise<AuthResult<User>> {
	const mode = new URL(request.url ?? '/', 'http://fixture').searchParams.get('auth');
	if (mode == UpgradeAuth.throws) throw new Error('authenticate threw');
	if (mode == UpgradeAuth.rejects) return Promise.reject(new Error('authenticate rejected'));
	if (mode == UpgradeAuth.hangs) return new Promise(() => {});
	if (mode == UpgradeAuth.refuses) return { success: false, code: 429, reason: LONG_REASON };
	return { success: true, data: { name: 'upgrade', flags: [] } };
}

/** Answers a request by hand: `onMessage` has no `reply`, and the suite wants every request answered. */
function answer(connection: Connection<unknown>, message: IncomingMessageFrame): void {
	if (message.id !== undefined) {
		connection.send({ name: 'reply', data: null, id: message.id, timestamp: Date.now() });
	}
}

const countError = () => void errorsReported++;

const routes: RouteOptions<unknown>[] = [
	defineRoute<User>({
		path: HardeningRoute.auth,
		origins: 'any',
		firstMessageAuth: {
			verify,
			timeout: numberFromEnv('AUTH_TIMEOUT_MS'),
			maxPending: numberFromEnv('MAX_PENDING')
		},
		authorizeJoin,
		connectedData(connection) {
			if (hasFlag(connection, ConnectionFlag.connectedDataThrows)) {
				throw new Error('connectedData threw');
			}
			return { name: connection.authData.name };
		},
		onConnect(connection) {
			if (hasFlag(connection, ConnectionFlag.onConnectThrows)) throw new Error('onConnect threw');
			if (hasFlag(connection, ConnectionFlag.onConnectRejects)) {
				return Promise.reject(new Error('onConnect rejected'));
			}
		},
		onClose(connection) {
			if (hasFlag(connection, ConnectionFlag.onCloseThrows)) throw new Error('onClose threw');
		},
		onError: countError
	}),
	defineRoute({
		path: HardeningRoute.open,
		origins: 'any',
		authorizeJoin,
		onMessage(connection, message) {
			if (message.name == OnMessageFailure.throws) throw new Error('onMessage threw');
			if (message.name == OnMessageFailure.rejects) {
				return Promise.reject(new Error('onMessage rejected'));
			}
			answer(connection, message);
		},
		// An error handler that fails too: the server must still survive and answer.
		onError() {
			countError();
			throw new Error('onError threw');
		}
	}),
	defineRoute({
		path: HardeningRoute.roomy,
		origins: 'any',
		authorizeJoin,
		rateLimit: { messagesPerSecond: 20_000, burst: 20_000 },
		onError: countError
	}),
	defineRoute<User>({
		path: HardeningRoute.upgradeAuth,
		origins: 'any',
		authenticate: authenticateUpgrade,
		onError: countError
	})
];

const sockets = createSocketServer({ routes, maxConnections: numberFromEnv('MAX_CONNECTIONS') });

sockets.on(Echo, (_connection, data, reply) => reply(data));
sockets.on(Boom, (_connection, data, reply) => reply(data));
sockets.on(SlowCheck, (_connection, data, reply) => reply(data));
sockets.on(Explode, () => {
	throw new Error('handler threw');
});
sockets.on(Reject, async () => {
	throw new Error('handler rejected');
});
sockets.on(Hang, () => new Promise<void>(() => {}));
sockets.on(Probe, (_connection, _data, reply) => reply({ ok: true }));

/** Publishes `FeedItem { n }` to `FEED_ROOM`, one after the other, every `intervalMs`. */
class Feed {
	published = 0;
	failed = 0;
	#running = false;
	#loop: Promise<void> = Promise.resolve();

	start(intervalMs: number): void {
		if (this.#running) return;
		this.#running = true;
		this.published = 0;
		this.failed = 0;
		this.#loop = (async () => {
			while (this.#running) {
				try {
					await sockets.to(FEED_ROOM).emit(FeedItem, { n: this.published + this.failed + 1 });
					this.published++;
				} catch (error) {
					this.failed++;
					console.error('feed publish failed:', error);
				}
				await new Promise((resolve) => setTimeout(resolve, intervalMs));
			}
		})();
	}

	async stop(): Promise<{ published: number; failed: number }> {
		this.#running = false;
		await this.#loop;
		return { published: this.published, failed: this.failed };
	}
}

const feed = new Feed();

/** Names of Object.prototype's own properties at start: a polluted prototype grows new ones. */
const prototypeKeys = Object.getOwnPropertyNames(Object.prototype).sort().join();

function prototypeClean(): boolean {
	const probeObject: Record<string, unknown> = {};
	let inherited = 0;
	for (const key in probeObject) if (key) inherited++;
	return (
		inherited == 0 && Object.getOwnPropertyNames(Object.prototype).sort().join() == prototypeKeys
	);
}

function stats(collect: boolean) {
	const loop = probe.take();
	if (collect) probe.pause(() => globalThis.gc?.());
	const memory = process.memoryUsage();
	return {
		pid: process.pid,
		...loop,
		heapUsed: memory.heapUsed,
		rss: memory.rss,
		connections: sockets.connections.size,
		slowConsumerCloses: sockets.metricsSnapshot().slowConsumerCloses,
		errorsReported,
		prototypeClean: prototypeClean()
	};
}

async function oversize(via: string, size: number): Promise<string> {
	const filler = 'x'.repeat(size);
	try {
		if (via == 'broadcast') {
			const [connection] = sockets.connections;
			if (!connection) return 'no connection to broadcast from';
			await connection.broadcast(
				{ name: BulkItem.name, data: { n: 0, filler }, timestamp: Date.now() },
				{ rooms: [FEED_ROOM] }
			);
		} else if (via == 'to') {
			await sockets.to(FEED_ROOM).emit(BulkItem, { n: 0, filler });
		} else {
			await sockets.publish(BulkItem, { n: 0, filler }, { room: FEED_ROOM });
		}
		return 'sent';
	} catch (error) {
		return error instanceof Error ? error.name : String(error);
	}
}

async function bulk(room: string, count: number, size: number, everyMs: number) {
	const filler = 'y'.repeat(size);
	let published = 0;
	let rejected = 0;
	for (let n = 1; n <= count; n++) {
		try {
			await sockets.to(room).emit(BulkItem, { n, filler });
			published++;
		} catch {
			rejected++;
		}
		// A real server publishes over time: readers that keep up must get the chance to drain.
		await new Promise((resolve) =>
			everyMs > 0 ? setTimeout(resolve, everyMs) : setImmediate(resolve)
		);
	}
	return { published, rejected };
}

async function control(request: IncomingMessage): Promise<unknown> {
	const url = new URL(request.url ?? '/', 'http://fixture');
	const query = (name: string, fallback: number) => Number(url.searchParams.get(name) ?? fallback);
	switch (`${request.method} ${url.pathname}`) {
		case 'GET /health':
			return { ok: true };
		case 'GET /stats':
			return stats(url.searchParams.has('gc'));
		case 'POST /feed/start':
			feed.start(query('interval', 10));
			return { started: true };
		case 'POST /feed/stop':
			return feed.stop();
		case 'POST /bulk':
			return bulk(
				url.searchParams.get('room') ?? 'bulk',
				query('count', 100),
				query('size', 1024),
				query('every', 0)
			);
		case 'POST /oversize':
			return {
				outcome: await oversize(url.searchParams.get('via') ?? 'publish', query('size', 0))
			};
		case 'GET /rooms': {
			const id = url.searchParams.get('id');
			const connection = [...sockets.connections].find((candidate) => candidate.id == id);
			return { rooms: connection ? [...connection.joinedRooms] : null };
		}
		default:
			return undefined;
	}
}

function respond(request: IncomingMessage, response: ServerResponse): void {
	control(request).then(
		(body) => {
			if (body === undefined) return void response.writeHead(404).end();
			response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
		},
		(error: unknown) => response.writeHead(500).end(String(error))
	);
}

await serveInChild({
	name: 'hardening-server',
	sockets,
	answer: respond,
	beforeStop: async () => {
		probe.stop();
		await feed.stop();
	}
});
// The parent reads "Listening" through a pipe: the probe runs before its first request arrives.
probe.start();
