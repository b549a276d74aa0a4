import { createHash } from 'node:crypto';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';
import {
	encodeFrame,
	EventLog,
	FrameDecoder,
	Opcode,
	type FrameOptions
} from '../peers/raw-frames.js';
import { within } from '../wait.js';

/** The GUID RFC 6455 appends to `Sec-WebSocket-Key` to compute `Sec-WebSocket-Accept`. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

const servers = new Set<HostileServer>();

afterEach(async () => {
	await Promise.all([...servers].map((server) => server.stop()));
});

/**
 * One client connection on a `HostileServer`: every byte it writes is chosen by the test, built by
 * `encodeFrame` (unmasked, as servers send), so it can send what no `ws` server would.
 *
 * @example
 * ```ts
 * const peer = await server.connection(0);
 * peer.frame(Opcode.Text, '{"name":"endless","data":"', { fin: false }); // a message never finished
 * ```
 */
export class HostilePeer {
	readonly socket: Socket;
	/** Every text frame the client sent, except the `"2"` pings its server answered. */
	readonly frames = new EventLog<string>();
	/** How many `"2"` pings the server answered with `"3"`. */
	pings = 0;
	/** Resolves when the TCP connection is gone. */
	readonly ended: Promise<void>;
	#decoder = new FrameDecoder();

	constructor(socket: Socket, answerPings: () => boolean) {
		this.socket = socket;
		this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
		socket.on('data', (chunk) => {
			for (const frame of this.#decoder.push(chunk)) {
				if (frame.opcode == Opcode.Ping) this.frame(Opcode.Pong, frame.payload);
				if (frame.opcode == Opcode.Close) {
					// Answer the closing handshake, so the client sees a clean close.
					if (socket.writable)
						socket.end(encodeFrame(Opcode.Close, frame.payload, { mask: false }));
				}
				if (frame.opcode != Opcode.Text) continue;
				const text = frame.payload.toString();
				if (text == '2' && answerPings()) {
					this.send('3');
					this.pings++;
				} else this.frames.push(text);
			}
		});
		socket.on('error', () => {});
	}

	/** Writes raw bytes. */
	write(bytes: Buffer): void {
		if (this.socket.writable) this.socket.write(bytes);
	}

	/** Writes one frame, unmasked. */
	frame(opcode: number, payload: Buffer | string, options: FrameOptions = {}): void {
		this.write(encodeFrame(opcode, payload, { mask: false, ...options }));
	}

	/** Sends a text frame: a string as is, anything else as JSON. */
	send(message: unknown): void {
		this.frame(Opcode.Text, typeof message == 'string' ? message : JSON.stringify(message));
	}

	/** Sends a runesocket envelope. */
	deliver(name: string, data: unknown, extra: Record<string, unknown> = {}): void {
		this.send({ name, data, timestamp: Date.now(), ...extra });
	}

	/** Sends a close frame with this code and reason, whether or not the code is valid on the wire. */
	close(code: number, reason: string | Buffer = ''): void {
		const payload = Buffer.alloc(2);
		payload.writeUInt16BE(code);
		this.frame(Opcode.Close, Buffer.concat([payload, Buffer.from(reason)]));
	}

	/** Drops the TCP connection without a close frame. */
	destroy(): void {
		this.socket.destroy();
	}
}

/**
 * A WebSocket server on a bare TCP socket on 127.0.0.1 that does the handshake by hand and then
 * only what the test tells it: garbage, endless or invalid frames, any close code. It records when
 * each connection attempt arrived. Stopped after each test.
 *
 * @example
 * ```ts
 * const server = await HostileServer.start();
 * server.onConnection = (peer) => peer.close(2999);
 * ```
 */
export class HostileServer {
	readonly server: Server;
	/** Every connection, in order of arrival. */
	readonly peers = new EventLog<HostilePeer>();
	/** `performance.now()` of every upgrade request, in order. */
	readonly attempts: number[] = [];
	/** When false, `"2"` pings are recorded like other frames and get no `"3"`. */
	answerPings = true;
	/** What the server does with every new connection, right after the handshake. */
	onConnection: ((peer: HostilePeer) => void) | undefined;
	#sockets = new Set<Socket>();

	private constructor(server: Server) {
		this.server = server;
		server.on('connection', (socket) => {
			this.#sockets.add(socket);
			socket.once('close', () => this.#sockets.delete(socket));
			socket.on('error', () => {});
			let head = Buffer.alloc(0);
			const readHandshake = (chunk: Buffer) => {
				head = Buffer.concat([head, chunk]);
				const end = head.indexOf('\r\n\r\n');
				if (end < 0) return;
				socket.off('data', readHandshake);
				this.#upgrade(socket, head.subarray(0, end).toString(), head.subarray(end + 4));
			};
			socket.on('data', readHandshake);
		});
	}

	/** Starts a server on a free port of 127.0.0.1. */
	static async start(): Promise<HostileServer> {
		const server = createServer();
		await within(
			new Promise<void>((resolve, reject) => {
				server.once('error', reject);
				server.listen(0, '127.0.0.1', resolve);
			}),
			'the hostile server to listen'
		);
		const hostile = new HostileServer(server);
		servers.add(hostile);
		return hostile;
	}

	get url(): string {
		return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
	}

	/** The `index`-th connection (0-based), waiting for it if needed. */
	connection(index: number, ms = 5_000): Promise<HostilePeer> {
		return this.peers.until(() => this.peers.items[index], `connection #${index}`, ms);
	}

	/** Drops every connection without a close frame and stops listening. */
	async stop(): Promise<void> {
		servers.delete(this);
		for (const socket of this.#sockets) socket.destroy();
		await new Promise<void>((resolve) => this.server.close(() => resolve()));
	}

	#upgrade(socket: Socket, request: string, rest: Buffer): void {
		this.attempts.push(performance.now());
		const key = /^sec-websocket-key:\s*(\S+)/im.exec(request)?.[1] ?? '';
		const accept = createHash('sha1')
			.update(key + WEBSOCKET_GUID)
			.digest('base64');
		socket.write(
			'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
				`Sec-WebSocket-Accept: ${accept}\r\n\r\n`
		);
		const peer = new HostilePeer(socket, () => this.answerPings);
		if (rest.length) socket.emit('data', rest);
		this.peers.push(peer);
		this.onConnection?.(peer);
	}
}
