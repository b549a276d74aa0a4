import WebSocket from 'ws';

// SocketClient's defaults (reconnectDelay, maxReconnectDelay, connectionTimeout), so the baseline
// differs from it in the schedule alone.
const MIN_DELAY_MS = 500;
const MAX_DELAY_MS = 5_000;
const CONNECTION_TIMEOUT_MS = 5_000;

/**
 * How the baseline waits before reconnect attempt `attempt` (0 for the first): plain exponential
 * backoff, `min(maxDelay, minDelay · 2^attempt)`, with no randomness, so clients that lost their
 * server together all retry together.
 *
 * @example
 * noJitterDelay(3, 500, 5_000); // 4000
 */
export function noJitterDelay(attempt: number, minDelay: number, maxDelay: number): number {
	return Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 32));
}

/**
 * What a baseline client tells its owner: each connection attempt, each delay it waits before
 * the next, and each time it is in its room again (the server answered its `room.join`).
 *
 * @example
 * const events: NoJitterEvents = { attempted: () => {}, scheduled: () => {}, joined: () => back++ };
 */
export interface NoJitterEvents {
	attempted(): void;
	scheduled(delay: number): void;
	joined(): void;
}

/**
 * The storm's baseline: a small `ws` client that speaks runesocket's envelope, joins one room on
 * every connection, and reconnects on the no-jitter schedule with `SocketClient`'s defaults for
 * the smallest and largest delay and the connection timeout. The attempt count restarts once a
 * connection is in its room again.
 *
 * @example
 * const client = new NoJitterClient('ws://127.0.0.1:3000/ws', 'room-1', events);
 * client.connect();
 */
export class NoJitterClient {
	readonly #url: string;
	readonly #joinFrame: string;
	readonly #events: NoJitterEvents;
	#attempt = 0;
	#socket: WebSocket | undefined;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#stopped = false;

	constructor(url: string, room: string, events: NoJitterEvents) {
		this.#url = url;
		this.#joinFrame = JSON.stringify({ name: 'room.join', data: { room } });
		this.#events = events;
	}

	connect(): void {
		this.#events.attempted();
		const socket = (this.#socket = new WebSocket(this.#url));
		this.#timer = setTimeout(() => socket.terminate(), CONNECTION_TIMEOUT_MS);
		socket.on('error', () => {});
		socket.on('open', () => {
			clearTimeout(this.#timer);
			socket.send(this.#joinFrame);
		});
		socket.on('message', (raw) => {
			const message = JSON.parse(String(raw)) as { name?: unknown };
			if (message.name != 'room.joined') return;
			this.#attempt = 0;
			this.#events.joined();
		});
		socket.on('close', () => this.#retry());
	}

	/** Closes for good. */
	stop(): void {
		this.#stopped = true;
		clearTimeout(this.#timer);
		this.#socket?.terminate();
	}

	#retry(): void {
		clearTimeout(this.#timer);
		if (this.#stopped) return;
		const delay = noJitterDelay(this.#attempt++, MIN_DELAY_MS, MAX_DELAY_MS);
		this.#timer = setTimeout(() => this.connect(), delay);
		this.#events.scheduled(delay);
	}
}
