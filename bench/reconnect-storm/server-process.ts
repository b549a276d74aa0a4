// A child process that runs one server for the storm: `fork('server-process.ts', [serverKind])`.
// It loads everything first and reports `loaded`, then listens only when told to, so a restart's
// outage is the orchestrator's fixed wait and not this process's start-up time. It counts every
// upgrade request per 100 ms bucket from the moment it listens.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server as SocketIoServer } from 'socket.io';
import { createSocketServer, MemoryEngine } from '../../src/lib/server/index.js';
import { LoopLagMeter } from './loop-lag.js';
import {
	BUCKET_MS,
	nowMs,
	type ServerCommand,
	type ServerKind,
	type ServerReport
} from './messages.js';

function report(message: ServerReport): void {
	process.send?.(message);
}

/** Upgrade requests per bucket, counted from `start()`. */
class UpgradeCounter {
	#startedAt = 0;
	readonly #buckets: number[] = [];

	start(): number {
		return (this.#startedAt = nowMs());
	}

	count(): void {
		const bucket = Math.floor((nowMs() - this.#startedAt) / BUCKET_MS);
		while (this.#buckets.length <= bucket) this.#buckets.push(0);
		this.#buckets[bucket]++;
	}

	get buckets(): number[] {
		return this.#buckets;
	}
}

/**
 * runesocket on `MemoryEngine`, no auth, rooms joined with `room.join`. The counting listener hands
 * each request to `handleUpgrade` itself rather than `attach`, so nothing else sees it first.
 */
function runesocketServer(counter: UpgradeCounter): Server {
	const sockets = createSocketServer({
		engine: new MemoryEngine(),
		routes: [{ path: '/ws', origins: 'any' }]
	});
	const http = createServer((_, response) => response.writeHead(404).end());
	http.on('upgrade', (request, socket, head) => {
		counter.count();
		void sockets.handleUpgrade(request, socket, head);
	});
	return http;
}

/** Socket.IO on the websocket transport: a client joins the room its handshake names, then hears `joined`. */
function socketIoServer(counter: UpgradeCounter): Server {
	const http = createServer();
	// Prepended, so the request is counted before engine.io takes it.
	http.prependListener('upgrade', () => counter.count());
	const io = new SocketIoServer(http, { transports: ['websocket'], serveClient: false });
	io.on('connection', (socket) => {
		const room = socket.handshake.query.room;
		if (typeof room == 'string') void socket.join(room);
		socket.emit('joined');
	});
	return http;
}

const kind = process.argv[2] as ServerKind;
const counter = new UpgradeCounter();
const lag = new LoopLagMeter();
const http = kind == 'socket.io' ? socketIoServer(counter) : runesocketServer(counter);

process.on('message', (command: ServerCommand) => {
	if (command.type == 'listen') {
		http.listen(command.port, '127.0.0.1', () => {
			const listenedAt = counter.start();
			lag.start();
			report({ type: 'listening', port: (http.address() as AddressInfo).port, listenedAt });
		});
	} else {
		report({ type: 'counted', upgrades: counter.buckets, lag: lag.read() });
	}
});
report({ type: 'loaded' });
// Nothing outlives the orchestrator.
process.on('disconnect', () => process.exit(0));
