import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import type { RequestBatch, RequestMode } from './messages.js';
import type { EchoData } from './servers.js';

/**
 * How many keys each client of the `repeat` mode sends again and again: all of them answered (and
 * kept) in the warm-up, so that every timed request is a repeat served from the key store.
 */
export const KEPT_KEYS_PER_CLIENT = 20;

/** A client that has not opened (or a request not answered) within this long has failed. */
const TIMEOUT_MS = 30_000;

const TEXT = 'a short request, echoed';

/**
 * An open client: sends one request and resolves once its answer came back with the same data.
 *
 * @example
 * const client = await openClient('fresh keys', port, 7);
 * await client.request(0, 'r1.t.7.0');
 */
export interface RequestClient {
	request(n: number, key: string | undefined): Promise<void>;
	close(): Promise<void>;
}

/**
 * Opens client number `index` (user `user-<index>` where the server authenticates) on 127.0.0.1,
 * and resolves once it can send requests: raw `ws` once open; runesocket once its `connected` came
 * (the token in the upgrade's query, checked by the route's `authenticate`); Socket.IO once
 * connected.
 *
 * @example
 * const client = await openClient('raw-ws', port, 0);
 */
export function openClient(mode: RequestMode, port: number, index: number): Promise<RequestClient> {
	const opened = mode == 'socket.io' ? openSocketIo(port) : openWs(mode, port, index);
	return withTimeout(opened, `client ${index} (${mode}) did not open`);
}

function withTimeout<Value>(promise: Promise<Value>, what: string): Promise<Value> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = setTimeout(() => reject(new Error(`${what} within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
	});
	return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function checked(answer: unknown, n: number): void {
	if ((answer as EchoData | undefined)?.n !== n) {
		throw new Error(`Answered ${JSON.stringify(answer)}, expected n ${n}`);
	}
}

interface Pending {
	n: number;
	resolve(): void;
	reject(error: Error): void;
}

/**
 * A ws client of the raw echo (`{"data","id"}` answered `{"id","data"}`) or of runesocket
 * (`{"name":"echo","data","key","id"}` answered by a `reply` with the same id), as runesocket's
 * client writes them: key before id, id last.
 */
function openWs(mode: RequestMode, port: number, index: number): Promise<RequestClient> {
	const raw = mode == 'raw-ws';
	const token = `token=token-${index}`;
	const socket = new WebSocket(`ws://127.0.0.1:${port}/${raw ? '' : 'ws'}?${token}`);
	const pending = new Map<number, Pending>();
	let nextId = 1;
	const client: RequestClient = {
		request(n, key) {
			const id = nextId++;
			const data: EchoData = { n, text: TEXT };
			socket.send(JSON.stringify(raw ? { data, id } : { name: 'echo', data, key, id }));
			return new Promise((resolve, reject) => pending.set(id, { n, resolve, reject }));
		},
		close: () => closeWs(socket)
	};
	return new Promise((resolve, reject) => {
		socket.on('error', reject);
		socket.on('close', (code) => {
			const error = new Error(`closed with ${code}`);
			reject(error);
			for (const waiting of pending.values()) waiting.reject(error);
			pending.clear();
		});
		if (raw) socket.on('open', () => resolve(client));
		socket.on('message', (text) => {
			const message = JSON.parse(text.toString()) as { name?: string; data?: unknown; id?: number };
			if (message.name == 'connected') return resolve(client);
			const waiting = message.id === undefined ? undefined : pending.get(message.id);
			if (!waiting) return;
			pending.delete(message.id!);
			if (!raw && message.name != 'reply') {
				return waiting.reject(new Error(`Answered ${text.toString()}`));
			}
			try {
				checked(message.data, waiting.n);
				waiting.resolve();
			} catch (error) {
				waiting.reject(error as Error);
			}
		});
	});
}

function closeWs(socket: WebSocket): Promise<void> {
	if (socket.readyState == WebSocket.CLOSED) return Promise.resolve();
	return new Promise((resolve) => {
		socket.once('close', () => resolve());
		socket.close();
	});
}

/** Socket.IO's client on the websocket transport: `emit('echo', data, ack)`. */
function openSocketIo(port: number): Promise<RequestClient> {
	const socket: Socket = io(`http://127.0.0.1:${port}`, {
		transports: ['websocket'],
		reconnection: false,
		forceNew: true
	});
	const client: RequestClient = {
		request(n) {
			const data: EchoData = { n, text: TEXT };
			return new Promise((resolve, reject) => {
				socket.emit('echo', data, (answer: unknown) => {
					try {
						checked(answer, n);
						resolve();
					} catch (error) {
						reject(error as Error);
					}
				});
			});
		},
		async close() {
			socket.disconnect();
		}
	};
	return new Promise((resolve, reject) => {
		socket.on('connect_error', reject);
		socket.on('connect', () => resolve(client));
	});
}

/**
 * Sends `batch.perClient` requests from every client, `batch.inFlight` at once per client, and
 * resolves with the ms from the first sent to the last answered. Request `i` of client `c` carries
 * `n = i`, and with `fresh keys` the key `<keyPrefix>.<c>.<i>`; with `repeat`, `n = i mod
 * KEPT_KEYS_PER_CLIENT` and the key `<keyPrefix>.<c>.<n>`.
 *
 * @example
 * const ms = await runBatch(clients, 'fresh keys', { perClient: 400, inFlight: 4, keyPrefix: 'r1.t' });
 */
export async function runBatch(
	clients: readonly RequestClient[],
	mode: RequestMode,
	batch: RequestBatch
): Promise<number> {
	const started = performance.now();
	await Promise.all(
		clients.map(async (client, c) => {
			let next = 0;
			const worker = async (): Promise<void> => {
				while (next < batch.perClient) {
					const i = next++;
					const n = mode == 'repeat' ? i % KEPT_KEYS_PER_CLIENT : i;
					const key =
						mode == 'fresh keys' || mode == 'repeat' ? `${batch.keyPrefix}.${c}.${n}` : undefined;
					await withTimeout(client.request(n, key), `request ${i} of client ${c} not answered`);
				}
			};
			await Promise.all(Array.from({ length: batch.inFlight }, worker));
		})
	);
	return performance.now() - started;
}
