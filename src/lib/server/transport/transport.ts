import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { PreparedMessage } from './prepared-message.js';

/**
 * What a transport hands to the session of its socket: frames, heartbeats, a failure and the close.
 * The session is the only receiver a socket has.
 */
export interface TransportReceiver {
	/** A data frame: text, or binary (which the protocol refuses). */
	receive(data: Buffer, isBinary: boolean): void;
	/** A WebSocket ping, which the receiver answers (or not): the transport never pongs by itself. */
	receivePing(data: Buffer): void;
	/** A WebSocket pong. */
	receivePong(): void;
	/** The socket failed (a protocol error, a reset): its close follows. */
	socketFailed(error: Error): void;
	/** The socket closed, by either end. */
	socketClosed(code: number, reason: string): void;
}

/**
 * One accepted WebSocket, as the server's core reaches it: the only seam between sessions, rooms,
 * dispatch, the backlog and connections on one side, and a WebSocket library (`ws`) on the other.
 * Sends are of frames prepared once for every member (`PreparedMessage`); `cork` and `uncork` let
 * the backlog write one turn's frames in one write.
 */
export interface Transport {
	/** Open: frames may be sent. False once a close started, by either end. */
	readonly isOpen: boolean;
	/** Fully closed: no close event will come any more. */
	readonly isClosed: boolean;
	/** Open, and its network socket still there to write to. */
	readonly writable: boolean;
	/** Bytes handed to the transport and not yet to the kernel. */
	readonly bufferedAmount: number;
	/**
	 * The transport refused a write: it holds more than it wants to (its peer reads slower than the
	 * server sends). `onceDrained` tells when it took everything.
	 */
	readonly backpressured: boolean;
	/** Hands every frame, heartbeat, failure and the close of the socket to `receiver`. */
	listen(receiver: TransportReceiver): void;
	/** Sends one prepared text frame (compressed when the connection negotiated it and it is large). */
	send(message: PreparedMessage): void;
	/** Gathers the sends that follow into one write, until `uncork`. */
	cork(): void;
	uncork(): void;
	ping(data?: Buffer | string): void;
	pong(data?: Buffer | string): void;
	/** Starts the close handshake with `code` and `reason`. */
	close(code: number, reason: string): void;
	/** Drops the socket at once, without a close handshake. */
	terminate(): void;
	/** Stops reading from the socket. */
	pause(): void;
	/** Calls `listener` once the socket has closed. */
	onceClosed(listener: () => void): void;
	/** Calls `listener` once, when a backpressured transport has handed everything to the kernel. */
	onceDrained(listener: () => void): void;
}

/** A route's inbound limits, as its transport server applies them. */
export interface TransportServerOptions {
	/** Largest inbound frame in bytes; larger ones close the connection with 1009. */
	maxPayload: number;
	/** permessage-deflate, when the route enables it. */
	compression: { threshold: number; concurrencyLimit: number } | undefined;
}

/** One route's WebSocket handshakes: it turns an accepted upgrade request into a `Transport`. */
export interface TransportServer {
	/** Completes the WebSocket handshake of `request`; `accepted` gets the open transport. */
	upgrade(
		request: IncomingMessage,
		socket: Duplex,
		head: Buffer,
		accepted: (transport: Transport) => void
	): void;
	/** Stops accepting (the open transports are closed by their connections). */
	close(): void;
}
