import type {
	ClientEvent,
	ConnectionState,
	SocketClient,
	SocketError
} from '../../src/lib/index.js';

// Captured at import, so tests that fake timers still time out for real.
const realSetTimeout = globalThis.setTimeout;
const realClearTimeout = globalThis.clearTimeout;

/** Rejects after `ms` unless `promise` settles first; `what` names the awaited thing in the error. */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<never>((_, reject) => {
		timer = realSetTimeout(
			() => reject(new Error(`Timed out after ${ms} ms waiting for ${what}`)),
			ms
		);
	});
	return Promise.race([promise, timeout]).finally(() => realClearTimeout(timer));
}

/** The next time `client` emits `event`. */
export function nextEvent<T>(client: SocketClient, event: ClientEvent<T>, ms?: number): Promise<T> {
	return within(
		new Promise<T>((resolve) => {
			const off = client.on(event, (payload) => {
				off();
				resolve(payload);
			});
		}),
		`client event ${String(event.name.description)}`,
		ms
	);
}

/** Resolves once `client` is in `state` (at once if it already is). */
export function reachState(
	client: SocketClient,
	state: ConnectionState,
	ms?: number
): Promise<void> {
	if (client.connectionState == state) return Promise.resolve();
	return within(
		new Promise<void>((resolve) => {
			const off = client.onStateChange((current) => {
				if (current != state) return;
				off();
				resolve();
			});
		}),
		`state ${state}`,
		ms
	);
}

/** The next error `client` reports, optionally of one kind. */
export function nextError(
	client: SocketClient,
	kind?: SocketError['kind'],
	ms?: number
): Promise<SocketError> {
	return within(
		new Promise<SocketError>((resolve) => {
			const off = client.onError((error) => {
				if (kind && error.kind != kind) return;
				off();
				resolve(error);
			});
		}),
		`error ${kind ?? '(any)'}`,
		ms
	);
}
