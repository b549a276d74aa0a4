import { Connected, Disconnected, type SocketError } from '../client/events.js';
import {
	SocketClient,
	type WebSocketConstructor,
	type WebSocketLike
} from '../client/socket-client.js';
import type { Dialect } from '../protocol/envelope.js';
import { safeJsonParse } from '../protocol/safe-json.js';

/**
 * Where the API lives: `wsUrl` if given, else `baseUrl` with `http`→`ws` and `/v1/ws` appended.
 *
 * @example
 * ```ts
 * const config: ApiClientConfig = { baseUrl: 'https://api.example.com' }; // → wss://api.example.com/v1/ws
 * ```
 */
export interface ApiClientConfig {
	baseUrl: string;
	wsUrl?: string;
}

/**
 * Options of `createWebSocket`.
 *
 * @example
 * ```ts
 * const options: WebSocketConfig = { accessToken: session.accessToken, maxReconnectAttempts: 3 };
 * ```
 */
export interface WebSocketConfig {
	/** Sent as the first frame of every connection (never in the URL). */
	accessToken?: string;
	/** Reconnect after an unexpected close. Default `true`. */
	autoReconnect?: boolean;
	/**
	 * LONGEST wait between reconnects in ms; each wait is a random part of it (full jitter). Note:
	 * `SocketClient`'s `reconnectDelay` is the SMALLEST backoff window instead (its windows grow
	 * from it up to `maxReconnectDelay`). Default 3 000.
	 */
	reconnectDelay?: number;
	/** Give up after this many attempts in a row. Default 5. */
	maxReconnectAttempts?: number;
	/** The WebSocket class, for Node 20 (e.g. `ws`). Default `globalThis.WebSocket`. */
	WebSocket?: WebSocketConstructor;
}

/**
 * What a close looks like to `onClose` handlers.
 *
 * @example
 * ```ts
 * const ws = createWebSocket({ baseUrl: 'https://api.example.com' });
 * ws.onClose(({ code, wasClean }: CloseInfo) => wasClean || console.warn('dropped', code));
 * ```
 */
export interface CloseInfo {
	readonly code: number;
	readonly reason: string;
	readonly wasClean: boolean;
}

/**
 * The handle `createWebSocket` returns.
 *
 * @example
 * ```ts
 * const ws: WebSocketClient = createWebSocket({ baseUrl: 'https://api.example.com' });
 * if (!ws.send({ type: 'ping' })) console.warn('not connected yet');
 * ```
 */
export interface WebSocketClient {
	/** The current underlying socket, `null` between connections. */
	readonly socket: WebSocketLike | null;
	/** Sends `data` as JSON; `true` when the socket was open, `false` (nothing queued) otherwise. */
	send(data: unknown): boolean;
	/** Whether the socket is open: the name every other runesocket layer uses. */
	readonly isConnected: boolean;
	/** The same as `isConnected`, under the name code written for plain-callback helpers uses. */
	readonly isOpen: boolean;
	/** Closes for good: no reconnect, every handler removed. */
	close(): void;
	onOpen(handler: () => void): void;
	/** Every inbound frame, parsed as JSON with prototype-pollution protection. */
	onMessage(handler: (data: unknown) => void): void;
	onError(handler: (error: SocketError) => void): void;
	onClose(handler: (event: CloseInfo) => void): void;
}

/** Frames are whole JSON values both ways; the token is the first frame. */
const rawJsonDialect: Dialect = {
	ping: '{"type":"ping"}',
	decode: (frame) => ({ name: 'message', data: safeJsonParse(frame) }),
	encode: ({ data }) => JSON.stringify(data),
	auth: (token) => token,
	join: (channel) => JSON.stringify({ type: 'subscribe', channel }),
	leave: (channel) => JSON.stringify({ type: 'unsubscribe', channel })
};

function socketUrl({ baseUrl, wsUrl }: ApiClientConfig): string {
	if (wsUrl) return wsUrl;
	if (typeof baseUrl != 'string' || !baseUrl) {
		throw new TypeError('createWebSocket needs config.wsUrl or config.baseUrl');
	}
	return `${baseUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}/v1/ws`;
}

/**
 * The `SocketClient` behind `createWebSocket` and `useWebSocket`, not yet connected: raw JSON
 * frames, the access token as the first frame, `createWebSocket`'s reconnect defaults. Shared so
 * both handles speak exactly alike; not part of the public entry.
 */
export function createCompatClient(
	config: ApiClientConfig,
	options: WebSocketConfig = {}
): SocketClient {
	const { accessToken, autoReconnect = true, reconnectDelay = 3_000 } = options;
	return new SocketClient(socketUrl(config), {
		protocol: rawJsonDialect,
		reconnect: autoReconnect,
		reconnectDelay,
		maxReconnectDelay: reconnectDelay,
		maxReconnectAttempts: options.maxReconnectAttempts ?? 5,
		heartbeatInterval: 0,
		auth: accessToken ? () => accessToken : undefined,
		WebSocket: options.WebSocket
	});
}

/**
 * A small, familiar handle over `SocketClient` for code written against plain-callback WebSocket
 * helpers: raw JSON in and out, an access token as the first frame, and reconnection (with jitter,
 * so a server restart does not bring every client back in the same instant). It connects at once.
 *
 * @example
 * ```ts
 * import { createWebSocket } from 'runesocket/compat';
 * const ws = createWebSocket({ baseUrl: 'https://api.example.com' }, { accessToken });
 * ws.onMessage((data) => console.log(data));
 * ws.send({ type: 'subscribe', channel: 'updates' });
 * ws.close();
 * ```
 */
export function createWebSocket(
	config: ApiClientConfig,
	options: WebSocketConfig = {}
): WebSocketClient {
	const client = createCompatClient(config, options);
	client.connect();
	return {
		get socket() {
			return client.socket;
		},
		get isConnected() {
			return client.isConnected;
		},
		get isOpen() {
			return client.isConnected;
		},
		send(data) {
			if (!client.isConnected) return false;
			client.send('message', data, { buffer: false });
			return true;
		},
		close: () => client.dispose(),
		onOpen: (handler) => void client.on(Connected, () => handler()),
		onMessage: (handler) => void client.onMessage((message) => handler(message.data)),
		onError: (handler) => void client.onError(handler),
		onClose: (handler) =>
			void client.on(Disconnected, ({ code, reason }) =>
				handler({ code, reason, wasClean: code != 1006 })
			)
	};
}
