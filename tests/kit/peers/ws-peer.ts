import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
import type { Connection, SocketServer } from '../../../src/lib/server/index.js';
// Imported first so its afterEach (stopping servers) is registered before ours: vitest runs
// after-hooks as a stack, so raw clients are dropped before a server waits for its sockets to go.
import '../servers/socket-server.js';
import { parseEnvelope, type Envelope } from '../envelope.js';
import { within } from '../wait.js';

/** A promise with its settle functions, for callbacks a test releases when it wants. */
export interface Deferred<T> {
	readonly promise: Promise<T>;
	resolve(value: T): void;
	reject(error: unknown): void;
}

/** A promise the test settles itself. */
export function deferred<T = void>(): Deferred<T> {
	let resolve!: (value: T) => void;
	let reject!: (error: unknown) => void;
	const promise = new Promise<T>((settle, fail) => {
		resolve = settle;
		reject = fail;
	});
	return { promise, resolve, reject };
}

/** How a connection closed, as the client saw it. */
export interface CloseInfo {
	readonly code: number;
	readonly reason: string;
}

/** An upgrade the server answered with a plain HTTP response instead of `101`. */
export interface Refusal {
	readonly status: number;
	readonly body: string;
	readonly headers: IncomingHttpHeaders;
}

const open: WsPeer[] = [];

afterEach(() => {
	for (const client of open.splice(0)) client.socket.terminate();
});

/** A plain `ws` client that records every frame; terminated after the test. */
export class WsPeer {
	readonly socket: WebSocket;
	/** Every text frame received, in order. */
	readonly frames: string[] = [];
	/** Socket errors (a refused handshake ends in one); kept so none goes unhandled. */
	readonly errors: Error[] = [];
	/** Resolves once the socket closed, with the code and reason the client saw. */
	readonly closed: Promise<CloseInfo>;
	#waiters: (() => void)[] = [];

	constructor(socket: WebSocket) {
		this.socket = socket;
		open.push(this);
		socket.on('error', (error) => this.errors.push(error));
		socket.on('message', (data, isBinary) => {
			this.frames.push(isBinary ? '<binary>' : data.toString());
			for (const wake of this.#waiters.splice(0)) wake();
		});
		this.closed = new Promise((resolve) => {
			socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
		});
	}

	/** The frames that are runesocket envelopes (room deliveries included), decoded. */
	get messages(): Envelope[] {
		return this.frames.map(parseEnvelope).filter((message) => message !== undefined);
	}

	/** The first envelope (from the `from`-th on) named `name`, waiting for it if needed. */
	nextMessage(name: string, ms = 5_000, from = 0): Promise<Envelope> {
		return within(
			(async () => {
				for (;;) {
					const found = this.messages.slice(from).find((message) => message.name == name);
					if (found) return found;
					await new Promise<void>((wake) => this.#waiters.push(wake));
				}
			})(),
			`a "${name}" message`,
			ms
		);
	}

	/** Resolves once at least `count` envelopes arrived. */
	waitForMessages(count: number, ms = 5_000): Promise<Envelope[]> {
		return within(
			(async () => {
				while (this.messages.length < count) {
					await new Promise<void>((wake) => this.#waiters.push(wake));
				}
				return this.messages;
			})(),
			`${count} messages`,
			ms
		);
	}

	/** Sends an object as JSON, or a string as is. */
	send(message: unknown): void {
		this.socket.send(typeof message == 'string' ? message : JSON.stringify(message));
	}

	/**
	 * A WebSocket ping answered by the server's `ws` with a pong: once it resolves, every frame sent
	 * before it has been received (and emitted as a message) by the server.
	 */
	roundTrip(ms = 5_000): Promise<void> {
		return within(
			new Promise<void>((resolve) => {
				this.socket.once('pong', () => resolve());
				this.socket.ping();
			}),
			'a pong',
			ms
		);
	}

	/** Waits for the close, failing after `ms`. */
	closedWithin(ms = 5_000): Promise<CloseInfo> {
		return within(this.closed, 'the socket to close', ms);
	}
}

/** What became of an upgrade request: an open socket, or an HTTP refusal. */
export type UpgradeOutcome =
	| { readonly opened: WsPeer; readonly refused?: undefined }
	| { readonly opened?: undefined; readonly refused: Refusal };

/** Opens a raw `ws` client with extra request headers and reports whether the upgrade succeeded. */
export function attemptUpgrade(
	url: string,
	headers: OutgoingHttpHeaders = {},
	ms = 5_000
): Promise<UpgradeOutcome> {
	const socket = new WebSocket(url, { headers });
	const client = new WsPeer(socket);
	return within(
		new Promise<UpgradeOutcome>((resolve, reject) => {
			const failed = (error: Error) => reject(error);
			socket.once('error', failed);
			socket.once('open', () => {
				socket.off('error', failed);
				resolve({ opened: client });
			});
			// With a listener, `ws` leaves the refused handshake to us: read the response, then drop it.
			socket.once('unexpected-response', (_request, response) => {
				let body = '';
				response.setEncoding('utf8');
				response.on('data', (chunk: string) => (body += chunk));
				response.once('end', () => {
					socket.off('error', failed);
					resolve({
						refused: { status: response.statusCode ?? 0, body, headers: response.headers }
					});
					socket.terminate();
				});
			});
		}),
		`the upgrade of ${url}`,
		ms
	);
}

/** A raw client whose upgrade must succeed. */
export async function connectRaw(url: string, headers: OutgoingHttpHeaders = {}): Promise<WsPeer> {
	const outcome = await attemptUpgrade(url, headers);
	if (!outcome.opened) {
		throw new Error(
			`Expected ${url} to upgrade, got HTTP ${outcome.refused.status}: ${outcome.refused.body}`
		);
	}
	return outcome.opened;
}

/** The HTTP refusal of an upgrade that must not succeed. */
export async function refusedUpgrade(
	url: string,
	headers: OutgoingHttpHeaders = {}
): Promise<Refusal> {
	const outcome = await attemptUpgrade(url, headers);
	if (!outcome.refused) throw new Error(`Expected ${url} to be refused, but it opened`);
	return outcome.refused;
}

/** The server-side connection whose upgrade request carried `x-test-client: <tag>`. */
export function serverConnection(sockets: SocketServer, tag: string): Connection<unknown> {
	const found = [...sockets.connections].find(
		(connection) => connection.req.headers['x-test-client'] == tag
	);
	if (!found) throw new Error(`No server connection tagged "${tag}"`);
	return found;
}

/** Request headers that tag a raw client, for `serverConnection`. */
export function tagged(tag: string, headers: OutgoingHttpHeaders = {}): OutgoingHttpHeaders {
	return { ...headers, 'x-test-client': tag };
}
