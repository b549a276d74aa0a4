import type { InboundMessage } from '../protocol/envelope.js';
import type { ErrorCodeValue } from '../protocol/error-codes.js';

/**
 * A lifecycle event of the client, subscribed to with `client.on(event, handler)` like a message.
 * Its name is a symbol, so no message from the wire can ever be mistaken for it.
 */
export interface ClientEvent<Payload> {
	readonly name: symbol;
	readonly schema: undefined;
	/** Type-only: the payload handlers receive. */
	readonly payload?: Payload;
}

/**
 * Every event's symbol goes without a description: an app knows each by its exported name, and the
 * five descriptions cost SocketClient's bundle 32 B min+gz (bench/bundle.ts). Nor is `schema`
 * spelled out: absent reads as `undefined` all the same, for 4 B.
 */
function clientEvent<Payload>(): ClientEvent<Payload> {
	return { name: Symbol() } as ClientEvent<Payload>;
}

/**
 * A connection opened and is ready: authenticated (if `auth` is set), rooms rejoined, buffer flushed.
 * `reconnected` is true for every connection after this client's first. When rooms were rejoined
 * from a known position, it fires once the server answered every rejoin, or once `requestTimeout`
 * passed: `recovered` says whether all of them were caught up exactly (otherwise `Unrecoverable`
 * fired for the rooms whose history was lost, and an error for those the server refused, or did not
 * answer in time: a `timeout` whose `detail` is `{ room }`; an answer that comes later still counts).
 *
 * @example
 * ```ts
 * client.on(Connected, ({ reconnected, recovered }) => reconnected && !recovered && refetch());
 * ```
 */
export const Connected: ClientEvent<{ reconnected: boolean; recovered: boolean }> = clientEvent();

/**
 * The server could not replay what a room sent while this client was away (its history was lost or
 * trimmed): whatever the app built from that room's messages must be reloaded. The client continues
 * from the room's current position.
 *
 * @example
 * ```ts
 * client.on(Unrecoverable, ({ room }) => reloadRoom(room));
 * ```
 */
export const Unrecoverable: ClientEvent<{ room: string }> = clientEvent();

/**
 * An open connection closed. `willReconnect` says whether the client will try again by itself.
 *
 * @example
 * ```ts
 * client.on(Disconnected, ({ code, reason, willReconnect }) => {
 * 	if (!willReconnect) showOfflineBanner(code, reason);
 * });
 * ```
 */
export const Disconnected: ClientEvent<{ code: number; reason: string; willReconnect: boolean }> =
	clientEvent();

/**
 * A reconnect attempt was scheduled: attempt number (from 1) and the delay before it, in ms.
 *
 * @example
 * ```ts
 * client.on(ReconnectAttempt, ({ attempt, delay }) => console.log(`retry #${attempt} in ${delay} ms`));
 * ```
 */
export const ReconnectAttempt: ClientEvent<{ attempt: number; delay: number }> = clientEvent();

/**
 * The client gave up after `maxReconnectAttempts` attempts; call `connect()` to start again.
 *
 * @example
 * ```ts
 * client.on(ReconnectFailed, ({ attempts }) => showRetryButton(attempts));
 * ```
 */
export const ReconnectFailed: ClientEvent<{ attempts: number }> = clientEvent();

/** @internal Every state change, behind `onStateChange`. */
export const StateChanged: ClientEvent<ConnectionState> = clientEvent();

/** @internal Every inbound message, behind `onMessage`. */
export const MessageReceived: ClientEvent<InboundMessage> = clientEvent();

/** @internal Every error, behind `onError`. */
export const ErrorRaised: ClientEvent<SocketError> = clientEvent();

/**
 * Where the client is: `connecting` (first connection), `connected`, `reconnecting` (waiting for or
 * making another attempt) or `disconnected` (stopped, or paused while offline or hidden).
 *
 * @example
 * ```ts
 * const label: Record<ConnectionState, string> = {
 * 	connecting: 'Connecting…', connected: 'Live', reconnecting: 'Reconnecting…', disconnected: 'Offline'
 * };
 * ```
 */
export type ConnectionState = 'connecting' | 'connected' | 'disconnected' | 'reconnecting';

/**
 * What went wrong, by kind: `connect` (an attempt failed, or the URL or token getter threw, or a
 * token refresh got no token: the getter threw, rejected or gave none),
 * `timeout` (connecting, a request, or a rejoin's answer took too long), `heartbeat` (no answer to a ping), `closed`
 * (the server closed with a code that stops reconnection, or a send needed a connection there was
 * not), `malformed` (an inbound frame was not a message), `validation` (inbound data failed its
 * schema, or the schema threw or rejected), `overflow` / `expired` (buffered messages dropped),
 * `server` (the server sent an `error`).
 */
export type SocketErrorKind =
	| 'connect'
	| 'timeout'
	| 'heartbeat'
	| 'closed'
	| 'malformed'
	| 'validation'
	| 'overflow'
	| 'expired'
	| 'server';

/**
 * The one error type the client reports and rejects with. `detail` carries what it is about: the
 * close event, the invalid message and its issues, the dropped frame, the server's `{code, message}`.
 * On `kind: 'server'`, `code` is the server's error code (an `ErrorCode` value, or an app's own).
 *
 * @example
 * ```ts
 * try {
 * 	await client.request(CreateIncident, { title: 'DB down' });
 * } catch (error) {
 * 	if (error instanceof SocketError && error.code == ErrorCode.Forbidden) alert(error.message);
 * }
 * ```
 */
export class SocketError extends Error {
	// `declare`: set in the constructor alone, so the bundle spells no field declarations (bench/bundle.ts).
	declare readonly kind: SocketErrorKind;
	declare readonly detail: unknown;
	/** The server's error code, on `kind: 'server'` only. */
	declare readonly code: ErrorCodeValue | (string & {}) | undefined;

	constructor(kind: SocketErrorKind, message: string, detail?: unknown) {
		super(message);
		this.kind = kind;
		this.detail = detail;
		const code = (detail as { code?: unknown } | undefined)?.code;
		this.code = kind == 'server' && typeof code == 'string' ? code : undefined;
		this.name = 'SocketError';
	}
}
