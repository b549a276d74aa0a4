import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { afterEach } from 'vitest';
// Imported first so its afterEach (stopping servers) is registered before ours: vitest runs
// after-hooks as a stack, so these sockets are destroyed before a server waits for its sockets to go.
import '../servers/socket-server.js';

/** What became of one upgrade request. */
export interface UpgradeAnswer {
	/** The HTTP status, `'closed'` when the server closed without a response, `'no answer'` on timeout. */
	readonly status: number | 'closed' | 'no answer';
	/** From the request's last byte to the answer, in ms. */
	readonly afterMs: number;
	/** The TCP connection, still open when upgraded (101); destroyed after the test. */
	readonly socket: Socket;
}

const sockets = new Set<Socket>();

afterEach(() => {
	for (const socket of sockets) socket.destroy();
	sockets.clear();
});

/** What an upgrade request carries besides its path. */
export interface UpgradeRequestOptions {
	/** Extra request headers, e.g. `Authorization`. */
	readonly headers?: Readonly<Record<string, string>>;
	/** The `Sec-WebSocket-Key`; a random one by default. */
	readonly key?: string;
}

/** The text of a WebSocket upgrade request for `path`, headers complete. */
export function upgradeRequestText(
	port: number,
	path = '/ws',
	options: UpgradeRequestOptions = {}
): string {
	const key = options.key ?? randomBytes(16).toString('base64');
	const extra = Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`);
	return [
		`GET ${path} HTTP/1.1`,
		`Host: 127.0.0.1:${port}`,
		'Upgrade: websocket',
		'Connection: Upgrade',
		`Sec-WebSocket-Key: ${key}`,
		'Sec-WebSocket-Version: 13',
		...extra,
		'',
		''
	].join('\r\n');
}

/** A TCP connection to 127.0.0.1:`port`, destroyed after the test. */
export function openSocket(port: number): Socket {
	const socket = connect({ host: '127.0.0.1', port });
	socket.on('error', () => {});
	sockets.add(socket);
	socket.once('close', () => sockets.delete(socket));
	return socket;
}

/**
 * Sends an upgrade request for `path` on a fresh TCP connection and waits (at most `timeoutMs`)
 * for the status line. Unlike a WebSocket client it never throws: a hung or dropped upgrade is an
 * answer too.
 *
 * @example
 * ```ts
 * const { status } = await upgrade(port, '/nowhere');
 * expect(status).toBe(404);
 * ```
 */
export function upgrade(port: number, path: string, timeoutMs = 5_000): Promise<UpgradeAnswer> {
	const socket = openSocket(port);
	return new Promise((resolve) => {
		let sentAt = performance.now();
		let head = '';
		const finish = (status: UpgradeAnswer['status']) => {
			clearTimeout(timer);
			socket.off('data', onData);
			socket.off('close', onClose);
			if (status != 101) socket.destroy();
			resolve({ status, afterMs: Math.round(performance.now() - sentAt), socket });
		};
		const onData = (chunk: Buffer) => {
			head += chunk.toString('latin1');
			const line = /^HTTP\/1\.1 (\d{3})/.exec(head);
			if (line) finish(Number(line[1]));
		};
		const onClose = () => finish('closed');
		const timer = setTimeout(() => finish('no answer'), timeoutMs);
		socket.on('data', onData);
		socket.once('close', onClose);
		socket.once('connect', () => {
			socket.write(upgradeRequestText(port, path));
			sentAt = performance.now();
		});
	});
}

/**
 * Opens a connection that writes an upgrade request one byte every `everyMs`, starting after
 * `offsetMs` (a slowloris), until the returned function stops it (and destroys the socket). The
 * request never completes: its last byte is never sent.
 *
 * @example
 * ```ts
 * const stop = trickleUpgrade(port, '/ws', 100);
 * // … the server must keep serving everyone else …
 * stop();
 * ```
 */
export function trickleUpgrade(
	port: number,
	path: string,
	everyMs: number,
	offsetMs = 0
): () => void {
	const socket = openSocket(port);
	const request = upgradeRequestText(port, path);
	let sent = 0;
	let timer: ReturnType<typeof setInterval> | undefined;
	const start = setTimeout(() => {
		timer = setInterval(() => {
			if (socket.destroyed || sent >= request.length - 1) return;
			socket.write(request[sent++]);
		}, everyMs);
	}, offsetMs);
	return () => {
		clearTimeout(start);
		clearInterval(timer);
		socket.destroy();
	};
}
