import type {
	ConnectionState,
	InboundMessage,
	SocketClient,
	SocketError
} from '../../src/lib/index.js';
import * as clientEvents from '../../src/lib/client/events.js';
import type { ClientEvent } from '../../src/lib/client/events.js';
import { withDeadline } from '../../src/lib/engine/errors.js';

// Captured at import, so tests that fake timers still time out, and poll, on the real clock.
const realSetTimeout = globalThis.setTimeout;

/**
 * Rejects with a `DeadlineError` after `ms` unless `promise` settles first; `what` names the awaited
 * thing in the error. The project's one timeout, `withDeadline`, on the real clock: it reads the
 * global `setTimeout` when called, which a test may have faked (vitest forwards the later
 * `clearTimeout` of a real timer to the real one).
 */
export function within<T>(promise: Promise<T>, what: string, ms = 5_000): Promise<T> {
	const current = globalThis.setTimeout;
	globalThis.setTimeout = realSetTimeout;
	try {
		return withDeadline(promise, ms, what);
	} finally {
		globalThis.setTimeout = current;
	}
}

/** How long `until` waits, and how often it checks. */
export interface UntilOptions {
	/** Default 5 000. */
	ms?: number;
	/** Real milliseconds between checks; default 1 (every timer turn). */
	everyMs?: number;
}

/**
 * Resolves once `check` holds, checked now and then every `everyMs` on the real clock (so faked
 * timers neither stall it nor fire anything while it waits). A check that rejects counts as not
 * yet, for state read from a process that may still be starting.
 */
export function until(
	check: () => boolean | Promise<boolean>,
	what: string,
	{ ms = 5_000, everyMs = 1 }: UntilOptions = {}
): Promise<void> {
	let waiting = true;
	const holds = async () => {
		const answer = check();
		return typeof answer == 'boolean' ? answer : answer.catch(() => false);
	};
	return within(
		(async () => {
			while (waiting && !(await holds())) {
				await new Promise((wake) => realSetTimeout(wake, everyMs));
			}
		})(),
		what,
		ms
	).finally(() => (waiting = false));
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
		// The events' symbols have no description (the bundle budget): their exported name says it.
		`client event ${Object.entries(clientEvents).find(([, value]) => value === event)?.[0]}`,
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

/** The next message named `name` that `client` receives from the server. */
export function nextServerMessage(
	client: SocketClient,
	name: string,
	ms?: number
): Promise<InboundMessage> {
	return within(
		new Promise<InboundMessage>((resolve) => {
			const off = client.onMessage((message) => {
				if (message.name != name) return;
				off();
				resolve(message);
			});
		}),
		`a "${name}" message from the server`,
		ms
	);
}
