// What the server-limits tests share (tests/integration/server-limits-*.test.ts): a `ws` peer that
// logs every frame, a one-route server, and small frame helpers.
import type { IncomingMessage } from 'node:http';
import { afterEach, expect } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import {
	type Connection,
	type RouteOptions,
	type SocketServerOptions
} from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import { parseEnvelope, type Envelope } from './envelope.js';
import { isPolluting } from './fuzz/fuzz-json.js';
import { destroyRawClients, EventLog } from './peers/raw-frames.js';
import { startSocketServer, type RunningServer } from './servers/socket-server.js';
import { within } from './wait.js';

// ---------------------------------------------------------------------------------------------
// A `ws` client that logs what it receives, so tests wait on events, never on a clock.
// ---------------------------------------------------------------------------------------------

// The limits tests take the kit's envelope parsing from here too, with the rest of their helpers.
export { parseEnvelope, type Envelope };

export interface ErrorData {
	code: string;
	message: string;
}

export function errorData(envelope: Envelope): ErrorData {
	expect(envelope.name).toBe('error');
	return envelope.data as ErrorData;
}

const openSockets = new Set<WebSocket>();

// Runs before the helpers' own hooks stop the servers, so no test waits on a client that does not
// answer the close handshake.
afterEach(() => {
	for (const socket of openSockets) socket.terminate();
	openSockets.clear();
	destroyRawClients();
});

/** A raw `ws` client (terminated after the test) whose every frame, ping and close is logged. */
export class Peer {
	readonly ws: WebSocket;
	/** Text frames (and `<binary n>` markers), in order. */
	readonly frames = new EventLog<string>();
	/** WebSocket pings received. */
	readonly pings = new EventLog<number>();
	readonly closed: Promise<{ code: number; reason: string }>;
	/** The upgrade response's headers. */
	upgradeHeaders: IncomingMessage['headers'] = {};
	/** The connection id from the server's `connected` message. */
	id = '';
	/** Set once the connection closed. */
	closedWith: { code: number; reason: string } | undefined;

	private constructor(ws: WebSocket) {
		this.ws = ws;
		openSockets.add(ws);
		ws.on('upgrade', (response) => (this.upgradeHeaders = response.headers));
		ws.on('message', (data, isBinary) => {
			this.frames.push(isBinary ? `<binary ${(data as Buffer).length}>` : data.toString());
		});
		ws.on('ping', () => this.pings.push(Date.now()));
		this.closed = new Promise((resolve) => {
			ws.on('close', (code, reason) => {
				this.closedWith = { code, reason: reason.toString() };
				resolve(this.closedWith);
				this.frames.wake();
			});
		});
	}

	/** Connects and waits for the server's `connected` message. */
	static async open(url: string, options: ClientOptions = {}): Promise<Peer> {
		const peer = new Peer(new WebSocket(url, options));
		await within(
			new Promise<void>((resolve, reject) => {
				peer.ws.once('open', () => resolve());
				peer.ws.once('error', reject);
			}),
			`${url} to open`
		);
		const connected = await peer.envelope((message) => message.name == 'connected', 'connected');
		peer.id = (connected.data as { id: string }).id;
		return peer;
	}

	get isOpen(): boolean {
		return this.ws.readyState == WebSocket.OPEN;
	}

	/** Every frame that is a runesocket envelope. */
	get envelopes(): Envelope[] {
		return this.frames.items.map(parseEnvelope).filter((item) => item !== undefined);
	}

	/** The first envelope (from frame `from` on) that satisfies `match`. */
	async envelope(
		match: (message: Envelope) => boolean,
		what: string,
		ms = 5_000,
		from = 0
	): Promise<Envelope> {
		const frame = await this.frames.waitFor(
			(item) => {
				const message = parseEnvelope(item);
				return message !== undefined && match(message);
			},
			what,
			ms,
			from
		);
		return parseEnvelope(frame)!;
	}

	/** The answer (`reply` or `error`) to request `id`. */
	answer(id: number, ms?: number): Promise<Envelope> {
		return this.envelope(
			(message) => message.id === id && (message.name == 'reply' || message.name == 'error'),
			`the answer to request ${id}`,
			ms
		);
	}

	/** Sends JSON, or a string as is. */
	send(message: unknown): void {
		this.ws.send(typeof message == 'string' ? message : JSON.stringify(message));
	}

	request(name: string, data: unknown, id: number): Promise<Envelope> {
		this.send({ name, data, id });
		return this.answer(id);
	}

	async join(room: string): Promise<void> {
		this.send({ name: 'room.join', data: { room } });
		await this.envelope(
			(message) => message.name == 'room.joined' && (message.data as { room: string }).room == room,
			`room.joined ${room}`
		);
	}

	/** `"2"` → `"3"`: proves the connection is open and the server still reads it. */
	async roundTrip(): Promise<void> {
		const from = this.frames.items.length;
		this.send('2');
		await this.frames.waitFor((frame) => frame == '3', 'a "3" heartbeat answer', 5_000, from);
	}
}

// ---------------------------------------------------------------------------------------------
// Server set-up
// ---------------------------------------------------------------------------------------------

export type TestRoute = Omit<RouteOptions<unknown>, 'path'> & { path?: string };

/** A running server with one route at `/ws` that allows any origin. */
export function serve(
	route: TestRoute = {},
	options: Omit<SocketServerOptions, 'routes'> = {}
): Promise<RunningServer> {
	return startSocketServer({ ...options, routes: [{ path: '/ws', origins: 'any', ...route }] });
}

/** Answers with its data. */
export const Echo = ClientMessage.define<unknown>('echo');
/** Answers with the length of its (string) data, so a big request gets a small answer. */
export const Measure = ClientMessage.define<string>('measure');

export function withEcho({ sockets }: RunningServer): void {
	sockets.on(Echo, (_connection, data, reply) => reply(data));
	sockets.on(Measure, (_connection, data, reply) => reply({ length: data.length }));
}

/** A `measure` request whose JSON text is exactly `bytes` bytes long. */
export function measureFrame(bytes: number, id: number): string {
	const empty = JSON.stringify({ name: 'measure', data: '', id });
	const frame = JSON.stringify({ name: 'measure', data: 'x'.repeat(bytes - empty.length), id });
	expect(Buffer.byteLength(frame)).toBe(bytes);
	return frame;
}

/** The server-side connection of `id`. */
export function connectionOf(server: RunningServer, id: string): Connection<unknown> {
	const connection = [...server.sockets.connections].find((candidate) => candidate.id == id);
	if (!connection) throw new Error(`No server connection ${id}`);
	return connection;
}

/** The error a `ws` client gets when it cannot even connect (e.g. ECONNREFUSED). */
export function connectionError(url: string): Promise<NodeJS.ErrnoException> {
	const socket = new WebSocket(url);
	openSockets.add(socket);
	return within(
		new Promise<NodeJS.ErrnoException>((resolve, reject) => {
			socket.once('open', () => reject(new Error(`${url} unexpectedly opened`)));
			socket.once('error', (error) => resolve(error as NodeJS.ErrnoException));
		}),
		`${url} to fail`
	);
}

/** Paths of every own `__proto__` key, or `constructor` key holding a `prototype`, at any depth. */
export function forbiddenKeysIn(value: unknown, path = '$'): string[] {
	if (typeof value != 'object' || value === null) return [];
	const found: string[] = [];
	for (const key of Object.getOwnPropertyNames(value)) {
		if (isPolluting(key, (value as Record<string, unknown>)[key])) found.push(`${path}.${key}`);
		found.push(...forbiddenKeysIn((value as Record<string, unknown>)[key], `${path}.${key}`));
	}
	const prototype: unknown = Object.getPrototypeOf(value);
	if (prototype !== Object.prototype && prototype !== Array.prototype) {
		found.push(`${path} has a foreign prototype`);
	}
	return found;
}
