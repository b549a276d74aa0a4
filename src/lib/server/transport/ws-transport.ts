import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import type { PreparedMessage } from './prepared-message.js';
import type {
	Transport,
	TransportReceiver,
	TransportServer,
	TransportServerOptions
} from './transport.js';

/** The `ws` internals a transport writes through; see `WsTransport` for why. */
interface WebSocketInternals {
	_socket?: Socket | null;
	_extensions?: Record<string, unknown>;
}

/**
 * The receiver of each socket, for the socket listeners below: they are the same five functions for
 * every connection instead of five closures each (with the scope they keep), which an idle
 * connection would carry for its whole life.
 */
const receiverOfSocket = new WeakMap<WebSocket, TransportReceiver>();

function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
	receiverOfSocket.get(this)?.receive(data as Buffer, isBinary);
}

function onSocketPing(this: WebSocket, data: Buffer): void {
	receiverOfSocket.get(this)?.receivePing(data);
}

function onSocketPong(this: WebSocket): void {
	receiverOfSocket.get(this)?.receivePong();
}

function onSocketError(this: WebSocket, error: Error): void {
	receiverOfSocket.get(this)?.socketFailed(error);
}

function onSocketClose(this: WebSocket, code: number, reason: Buffer): void {
	receiverOfSocket.get(this)?.socketClosed(code, reason.toString());
}

/**
 * A `ws` WebSocket as a `Transport`. Without permessage-deflate a prepared frame is written to the
 * TCP socket directly, which is exactly what `ws` itself would write, and corked writes gather a
 * turn's frames into one syscall; with compression each message goes through `ws.send`, so that
 * `ws` keeps its per-connection deflate context and order.
 */
export class WsTransport implements Transport {
	#socket: WebSocket;
	/** The TCP socket under `ws`, set by the handshake before the transport is made. */
	#raw: Socket | null | undefined;
	#deflate: boolean;
	#compressionThreshold: number;
	/**
	 * With compression: bytes handed to `ws.send` whose frames the kernel has not taken yet. `ws`
	 * deflates them asynchronously and holds them meanwhile, where the TCP socket's own backpressure
	 * does not see them: without this, a backlog kept writing into `ws` until the slow-consumer close.
	 */
	#unsent = 0;
	/** With compression: what waits for `#unsent` to reach 0 (then for the TCP socket's drain). */
	#sentListeners: (() => void)[] | undefined;

	constructor(socket: WebSocket, compressionThreshold: number) {
		const internals = socket as unknown as WebSocketInternals;
		this.#socket = socket;
		this.#raw = internals._socket;
		this.#deflate = Boolean(internals._extensions?.['permessage-deflate']);
		this.#compressionThreshold = compressionThreshold;
	}

	get isOpen(): boolean {
		return this.#socket.readyState == WebSocket.OPEN;
	}

	get isClosed(): boolean {
		return this.#socket.readyState == WebSocket.CLOSED;
	}

	get writable(): boolean {
		const raw = this.#raw;
		return this.#socket.readyState == WebSocket.OPEN && !!raw && !raw.destroyed;
	}

	get bufferedAmount(): number {
		return this.#socket.bufferedAmount;
	}

	/**
	 * The TCP socket's own signal (a write returned false, and `drain` is due), or, with compression,
	 * as much waiting in `ws` as the socket's high-water mark.
	 */
	get backpressured(): boolean {
		const raw = this.#raw;
		return Boolean(raw?.writableNeedDrain) || this.#unsent >= (raw?.writableHighWaterMark ?? 0);
	}

	listen(receiver: TransportReceiver): void {
		const socket = this.#socket;
		receiverOfSocket.set(socket, receiver);
		socket.on('message', onSocketMessage);
		socket.on('ping', onSocketPing);
		socket.on('pong', onSocketPong);
		socket.on('error', onSocketError);
		socket.on('close', onSocketClose);
	}

	send(message: PreparedMessage): void {
		if (!this.#deflate) return void this.#raw!.write(message.frame);
		const length = message.byteLength;
		this.#unsent += length;
		this.#socket.send(
			message.payload,
			{ binary: false, compress: length >= this.#compressionThreshold },
			// Called once the frame was written to the socket (or failed with it).
			() => this.#taken(length)
		);
	}

	/** `ws` wrote a frame of `length` payload bytes: once all are, whoever waits is told. */
	#taken(length: number): void {
		this.#unsent -= length;
		const listeners = this.#sentListeners;
		if (this.#unsent || !listeners) return;
		this.#sentListeners = undefined;
		for (const listener of listeners) this.onceDrained(listener);
	}

	cork(): void {
		this.#raw!.cork();
	}

	uncork(): void {
		this.#raw!.uncork();
	}

	ping(data?: Buffer | string): void {
		this.#socket.ping(data);
	}

	pong(data?: Buffer | string): void {
		this.#socket.pong(data);
	}

	close(code: number, reason: string): void {
		this.#socket.close(code, reason);
	}

	terminate(): void {
		this.#socket.terminate();
	}

	pause(): void {
		this.#socket.pause();
	}

	onceClosed(listener: () => void): void {
		this.#socket.once('close', () => listener());
	}

	onceDrained(listener: () => void): void {
		if (this.#unsent) (this.#sentListeners ??= []).push(listener);
		else if (this.#raw?.writableNeedDrain) this.#raw.once('drain', listener);
		else queueMicrotask(listener);
	}
}

/**
 * A route's handshakes on `ws`: its own `WebSocketServer` without an HTTP server of its own (each
 * route has its own payload limit and compression).
 */
export class WsTransportServer implements TransportServer {
	#wss: WebSocketServer;
	#compressionThreshold: number;

	constructor({ maxPayload, compression }: TransportServerOptions) {
		this.#compressionThreshold = compression?.threshold ?? 0;
		this.#wss = new WebSocketServer({
			noServer: true,
			// Pings count against the rate limit like any frame: the session answers them itself.
			autoPong: false,
			// One inbound message per connection per event-loop turn: a socket read can bring megabytes
			// of frames, and handling them all at once let one flooding client stall everyone (a turn
			// of 64 KiB frames took 80 ms). Later frames wait in ws, whose backpressure pauses the socket.
			allowSynchronousEvents: false,
			maxPayload,
			perMessageDeflate: compression ?? false
		});
	}

	upgrade(
		request: IncomingMessage,
		socket: Duplex,
		head: Buffer,
		accepted: (transport: Transport) => void
	): void {
		this.#wss.handleUpgrade(request, socket, head, (ws) =>
			accepted(new WsTransport(ws, this.#compressionThreshold))
		);
	}

	close(): void {
		this.#wss.close();
	}
}
