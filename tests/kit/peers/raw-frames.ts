import { createHash, randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterEach } from 'vitest';
import { within } from '../wait.js';
import { openSocket, upgradeRequestText } from './upgrades.js';

/** The GUID RFC 6455 appends to `Sec-WebSocket-Key` to compute `Sec-WebSocket-Accept`. */
const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** WebSocket frame opcodes (RFC 6455 §5.2). */
export const Opcode = {
	Continuation: 0x0,
	Text: 0x1,
	Binary: 0x2,
	Close: 0x8,
	Ping: 0x9,
	Pong: 0xa
} as const;

/** How `encodeFrame` builds a frame. Client frames are masked unless `mask` is false. */
export interface FrameOptions {
	fin?: boolean;
	rsv1?: boolean;
	mask?: boolean;
}

/** One decoded frame. */
export interface Frame {
	readonly fin: boolean;
	readonly rsv1: boolean;
	readonly opcode: number;
	readonly masked: boolean;
	/** The payload, unmasked. */
	readonly payload: Buffer;
}

/**
 * Builds one WebSocket frame by hand: header, 7/16/64-bit length, mask key and masked payload.
 *
 * @example
 * ```ts
 * socket.write(encodeFrame(Opcode.Text, Buffer.from([0xff, 0xfe])));
 * ```
 */
export function encodeFrame(
	opcode: number,
	payload: Buffer | string,
	{ fin = true, rsv1 = false, mask = true }: FrameOptions = {}
): Buffer {
	const body = typeof payload == 'string' ? Buffer.from(payload) : payload;
	const length = body.length;
	const lengthBytes = length < 126 ? 0 : length <= 0xffff ? 2 : 8;
	const header = Buffer.alloc(2 + lengthBytes + (mask ? 4 : 0));
	header[0] = (fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | (opcode & 0x0f);
	header[1] = (mask ? 0x80 : 0) | (length < 126 ? length : lengthBytes == 2 ? 126 : 127);
	if (lengthBytes == 2) header.writeUInt16BE(length, 2);
	if (lengthBytes == 8) header.writeBigUInt64BE(BigInt(length), 2);
	if (!mask) return Buffer.concat([header, body]);
	const key = randomBytes(4);
	key.copy(header, 2 + lengthBytes);
	const masked = Buffer.alloc(length);
	for (let index = 0; index < length; index++) masked[index] = body[index] ^ key[index % 4];
	return Buffer.concat([header, masked]);
}

/** The status code and reason a close frame carries (`code` 1005 when it has none). */
export function closeInfo(frame: Frame): { code: number; reason: string } {
	if (frame.payload.length < 2) return { code: 1005, reason: '' };
	return { code: frame.payload.readUInt16BE(0), reason: frame.payload.subarray(2).toString() };
}

/**
 * Splits a byte stream into frames, however the stream was chunked.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder();
 * socket.on('data', (chunk) => frames.push(...decoder.push(chunk)));
 * ```
 */
export class FrameDecoder {
	#pending: Buffer = Buffer.alloc(0);

	push(chunk: Buffer): Frame[] {
		this.#pending = this.#pending.length ? Buffer.concat([this.#pending, chunk]) : chunk;
		const frames: Frame[] = [];
		for (;;) {
			const frame = this.#next();
			if (!frame) return frames;
			frames.push(frame);
		}
	}

	#next(): Frame | undefined {
		const bytes = this.#pending;
		if (bytes.length < 2) return undefined;
		const masked = (bytes[1] & 0x80) != 0;
		let length = bytes[1] & 0x7f;
		let offset = 2;
		if (length == 126) {
			if (bytes.length < 4) return undefined;
			length = bytes.readUInt16BE(2);
			offset = 4;
		} else if (length == 127) {
			if (bytes.length < 10) return undefined;
			length = Number(bytes.readBigUInt64BE(2));
			offset = 10;
		}
		const keyOffset = offset;
		if (masked) offset += 4;
		if (bytes.length < offset + length) return undefined;
		const payload = Buffer.from(bytes.subarray(offset, offset + length));
		if (masked) {
			for (let index = 0; index < length; index++) {
				payload[index] ^= bytes[keyOffset + (index % 4)];
			}
		}
		this.#pending = bytes.subarray(offset + length);
		return {
			fin: (bytes[0] & 0x80) != 0,
			rsv1: (bytes[0] & 0x40) != 0,
			opcode: bytes[0] & 0x0f,
			masked,
			payload
		};
	}
}

/**
 * A list that grows as events arrive, with waits on it that never poll a clock: every `push` wakes
 * the waiters, which look again.
 *
 * @example
 * ```ts
 * const log = new EventLog<string>();
 * socket.on('message', (data) => log.push(String(data)));
 * await log.waitFor((frame) => frame == '3', 'a pong');
 * ```
 */
export class EventLog<Item> {
	readonly items: Item[] = [];
	#waiters = new Set<() => void>();

	push(item: Item): void {
		this.items.push(item);
		this.wake();
	}

	/** Wakes the waiters without a new item (e.g. the stream ended, so they should give up). */
	wake(): void {
		for (const waiter of [...this.#waiters]) waiter();
	}

	/** Resolves with the first item from index `from` on that satisfies `match`. */
	waitFor(match: (item: Item) => boolean, what: string, ms = 5_000, from = 0): Promise<Item> {
		return this.until(() => this.items.slice(from).find(match), what, ms);
	}

	/** Resolves once at least `count` items satisfy `match`. */
	waitForCount(
		count: number,
		match: (item: Item) => boolean,
		what: string,
		ms = 5_000
	): Promise<Item[]> {
		return this.until(
			() => {
				const found = this.items.filter(match);
				return found.length >= count ? found : undefined;
			},
			what,
			ms
		);
	}

	/** Resolves with `check()`'s first defined answer, checked now and after every push or wake. */
	until<Result>(check: () => Result | undefined, what: string, ms = 5_000): Promise<Result> {
		let waiter: (() => void) | undefined;
		const found = new Promise<Result>((resolve) => {
			waiter = () => {
				const result = check();
				if (result !== undefined) resolve(result);
			};
			this.#waiters.add(waiter);
			waiter();
		});
		return within(found, what, ms).finally(() => {
			if (waiter) this.#waiters.delete(waiter);
		});
	}
}

/** What a raw client sends in its upgrade request. */
export interface RawHandshakeOptions {
	/** Default `/ws`. */
	path?: string;
	/** Extra request headers, e.g. `Sec-WebSocket-Extensions`. */
	headers?: Record<string, string>;
}

const rawClients = new Set<RawClient>();

/** Destroys every raw client still open (also done after each test). */
export function destroyRawClients(): void {
	for (const client of rawClients) client.destroy();
	rawClients.clear();
}

afterEach(destroyRawClients);

/**
 * A WebSocket client on a bare TCP socket: the upgrade request is written by hand, every frame it
 * sends is built and masked by `encodeFrame`, and what the server sends is decoded by `FrameDecoder`,
 * so a test can send what no well-behaved client would and stop reading whenever it likes. Destroyed
 * after each test.
 *
 * @example
 * ```ts
 * const raw = await RawClient.connect(server.port);
 * raw.send(Opcode.Text, Buffer.from([0xff]));
 * const close = await raw.waitForClose();
 * ```
 */
export class RawClient {
	readonly socket: Socket;
	/** The status code of the upgrade response (101 when upgraded). */
	readonly status: number;
	/** The upgrade response headers, lower-cased names. */
	readonly headers: Readonly<Record<string, string>>;
	/** Every frame received, in order. */
	readonly frames = new EventLog<Frame>();
	/** Bytes received after the upgrade response. */
	bytesReceived = 0;
	/** Set once the TCP connection closed. */
	isClosed = false;
	/** The socket error that ended it, if any (e.g. ECONNRESET). */
	error: Error | undefined;
	/** Resolves when the TCP connection closed. */
	readonly ended: Promise<void>;
	#decoder = new FrameDecoder();

	private constructor(
		socket: Socket,
		status: number,
		headers: Record<string, string>,
		rest: Buffer
	) {
		this.socket = socket;
		this.status = status;
		this.headers = headers;
		socket.on('error', (error) => (this.error = error));
		this.ended = new Promise((resolve) =>
			socket.once('close', () => {
				this.isClosed = true;
				this.frames.wake();
				resolve();
			})
		);
		socket.on('data', (chunk: Buffer) => this.#receive(chunk));
		if (rest.length) this.#receive(rest);
	}

	/**
	 * Opens a TCP connection to 127.0.0.1:`port` and performs the upgrade by hand. Resolves with the
	 * client whatever the status; `status == 101` (and a correct `Sec-WebSocket-Accept`) means upgraded.
	 */
	static async connect(port: number, options: RawHandshakeOptions = {}): Promise<RawClient> {
		const socket = openSocket(port);
		const key = randomBytes(16).toString('base64');
		const request = upgradeRequestText(port, options.path, { headers: options.headers, key });
		const response = await within(
			new Promise<{ head: string; rest: Buffer }>((resolve, reject) => {
				let received = Buffer.alloc(0);
				const onData = (chunk: Buffer) => {
					received = Buffer.concat([received, chunk]);
					const end = received.indexOf('\r\n\r\n');
					if (end < 0) return;
					socket.off('data', onData);
					socket.off('close', onClose);
					socket.pause();
					resolve({
						head: received.subarray(0, end).toString('latin1'),
						rest: received.subarray(end + 4)
					});
				};
				const onClose = () => reject(new Error('The socket closed before an upgrade response'));
				socket.on('data', onData);
				socket.once('close', onClose);
				socket.once('connect', () => socket.write(request));
			}),
			'the upgrade response'
		);
		const [statusLine, ...lines] = response.head.split('\r\n');
		const status = Number(statusLine.split(' ')[1]);
		const headers: Record<string, string> = {};
		for (const line of lines) {
			const colon = line.indexOf(':');
			if (colon > 0)
				headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
		}
		if (status == 101) {
			const expected = createHash('sha1')
				.update(key + WEBSOCKET_GUID)
				.digest('base64');
			if (headers['sec-websocket-accept'] != expected) {
				socket.destroy();
				throw new Error(`Bad Sec-WebSocket-Accept: ${headers['sec-websocket-accept']}`);
			}
		}
		const client = new RawClient(socket, status, headers, response.rest);
		rawClients.add(client);
		socket.resume();
		return client;
	}

	/** Text frames received, decoded as UTF-8 (uncompressed frames only). */
	get texts(): string[] {
		return this.frames.items
			.filter((frame) => frame.opcode == Opcode.Text && !frame.rsv1)
			.map((frame) => frame.payload.toString());
	}

	/** Writes one frame, masked unless told otherwise. */
	send(opcode: number, payload: Buffer | string, options?: FrameOptions): void {
		this.socket.write(encodeFrame(opcode, payload, options));
	}

	/** Sends a masked text frame with `message` as JSON (or a string as is). */
	sendText(message: unknown): void {
		this.send(Opcode.Text, typeof message == 'string' ? message : JSON.stringify(message));
	}

	/** Resolves with the first text frame that parses as JSON and satisfies `match`. */
	waitForText(match: (text: string) => boolean, what: string, ms = 5_000): Promise<string> {
		return this.frames
			.waitFor(
				(frame) => frame.opcode == Opcode.Text && !frame.rsv1 && match(frame.payload.toString()),
				what,
				ms
			)
			.then((frame) => frame.payload.toString());
	}

	/** Resolves with the code and reason of the server's close frame, or `undefined` if the TCP connection closed without one. */
	async waitForClose(ms = 5_000): Promise<{ code: number; reason: string } | undefined> {
		const frame = await this.frames.until(
			() => {
				const close = this.frames.items.find((item) => item.opcode == Opcode.Close);
				if (close) return { close };
				return this.isClosed ? { close: undefined } : undefined;
			},
			'a close frame or the end of the TCP connection',
			ms
		);
		return frame.close && closeInfo(frame.close);
	}

	/** Stops reading: the kernel's buffers fill and the server's writes back up. */
	pause(): void {
		this.socket.pause();
	}

	resume(): void {
		this.socket.resume();
	}

	destroy(): void {
		this.socket.destroy();
	}

	#receive(chunk: Buffer): void {
		this.bytesReceived += chunk.length;
		for (const frame of this.#decoder.push(chunk)) this.frames.push(frame);
	}
}
