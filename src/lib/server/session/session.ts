import type { RawData, WebSocket } from 'ws';
import {
	AUTH_TIMEOUT,
	INTERNAL_ERROR,
	INVALID_TOKEN,
	POLICY_VIOLATION,
	TOO_MANY_PENDING
} from '../../protocol/close-codes.js';
import { isRecord, REPLY_MESSAGE } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { safeJsonParse } from '../../protocol/safe-json.js';
import type { Connection } from '../connection.js';
import { tokenFromFirstFrame } from './first-frame-token.js';
import type { AuthResult } from '../options.js';
import type { RateLimiter } from './rate-limiter.js';
import type { Route } from '../route.js';

/**
 * Where a connection is on its way in. Every change goes through `Session.#enter`, which tears down
 * what the previous phase owned (its deadline, its pending-auth slot).
 */
export const Phase = {
	/** First-message auth: the next frame is the token. Deadline: 4002. Holds a pending-auth slot. */
	AwaitingToken: 'awaiting-token',
	/** The token is being verified; frames arriving meanwhile are held in order. Deadline: 1011. */
	Verifying: 'verifying',
	/** Authenticated: frames are dispatched. */
	Ready: 'ready',
	/** A close was decided, by either end: nothing more is parsed or dispatched. */
	Closed: 'closed'
} as const;

/** One of the `Phase` values. */
export type PhaseValue = (typeof Phase)[keyof typeof Phase];

/** Frames a connection may send while its first-message token is being checked… */
const MAX_FRAMES_BEFORE_AUTH = 100;
/** …and their bytes: 100 pending connections must not hold 100 full-size frames each. */
const MAX_BYTES_BEFORE_AUTH = 256 * 1024;

/**
 * What a session hands to its server: the moment it is ready, and each frame once it is.
 *
 * @example
 * ```ts
 * const host: SessionHost = { ready: greet, dispatch: route, report: log };
 * ```
 */
export interface SessionHost {
	/** The connection passed authentication with `authData`: greet it and run `onConnect`. */
	ready(session: Session, authData: unknown): void;
	/** One text frame of an authenticated connection, already admitted by the rate limit. */
	dispatch(session: Session, frame: string): void;
	/** A failure of an application callback. */
	report(connection: Connection<unknown>, error: unknown): void;
	/** The socket closed with `code` and `reason`. */
	closed(session: Session, code: number, reason: string): void;
}

/**
 * The session of each socket, for the socket listeners below: they are the same five functions for
 * every connection instead of five closures each (with the scope they keep), which an idle
 * connection would carry for its whole life.
 */
const sessionOfSocket = new WeakMap<WebSocket, Session>();

function onSocketMessage(this: WebSocket, data: RawData, isBinary: boolean): void {
	sessionOfSocket.get(this)?.receive(data as Buffer, isBinary);
}

function onSocketPing(this: WebSocket, data: Buffer): void {
	sessionOfSocket.get(this)?.receivePing(data);
}

function onSocketPong(this: WebSocket): void {
	sessionOfSocket.get(this)?.receivePong();
}

function onSocketError(this: WebSocket, error: Error): void {
	sessionOfSocket.get(this)?.socketFailed(error);
}

function onSocketClose(this: WebSocket, code: number, reason: Buffer): void {
	sessionOfSocket.get(this)?.socketClosed(code, reason.toString());
}

/** The id of a request frame as our clients write it (`…,"id":7}`), read without parsing it. */
const TRAILING_ID = /"id":(\d{1,15})\}\s*$/;

/**
 * The request id at the end of a frame, for answering a frame the rate limit refuses: refused frames
 * are never parsed, so that a flood costs no more than counting it.
 *
 * @example
 * ```ts
 * trailingRequestId('{"name":"x","data":1,"id":7}'); // 7
 * ```
 */
function trailingRequestId(frame: string): number | undefined {
	const match = TRAILING_ID.exec(frame.slice(-32));
	return match ? Number(match[1]) : undefined;
}

/**
 * The id of a first frame sent as a request (`{"name":"auth","data":{…},"id":1}`): it is answered
 * with a `reply` once the token passed (a refusal closes the connection, which ends every request).
 */
function authRequestId(frame: string): number | undefined {
	if (!/^\s*\{/.test(frame)) return undefined; // a bare token, or a JSON string
	let message: unknown;
	try {
		message = safeJsonParse(frame);
	} catch {
		return undefined; // a bare token that happens to start with "{"
	}
	return isRecord(message) && Number.isFinite(message.id) ? (message.id as number) : undefined;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
	return typeof (value as PromiseLike<unknown> | undefined)?.then == 'function';
}

/** A refusal closes with the app's own 4xxx code (or 1011), else 4001 invalid token. */
function refusalCloseCode(code: unknown): number {
	if (code === INTERNAL_ERROR) return code;
	return typeof code == 'number' && Number.isInteger(code) && code >= 4000 && code <= 4999
		? code
		: INVALID_TOKEN;
}

/**
 * An application's answer as an `AuthResult`, whatever it returned: anything but
 * `{ success: true }` is a refusal.
 *
 * @example
 * ```ts
 * authResult(undefined); // { success: false }
 * ```
 */
export function authResult(value: unknown): AuthResult<unknown> {
	if (!isRecord(value)) return { success: false };
	if (value.success === true) return { success: true, data: value.data };
	const { code, reason } = value;
	return {
		success: false,
		code: typeof code == 'number' ? code : undefined,
		reason: typeof reason == 'string' ? reason : undefined
	};
}

/**
 * One connection's way in and its inbound gate: every frame (text, binary, heartbeat, control) is
 * first counted by the rate limiter, unparsed; then the phase decides what it is — the token, a frame
 * held while the token is verified, or a message to dispatch. Once a close is decided nothing more
 * gets through.
 *
 * @example
 * ```ts
 * const session = new Session(connection, route, host);
 * session.listen(ws);
 * session.start(authDataFromUpgrade);
 * ```
 */
export class Session {
	readonly connection: Connection<unknown>;
	readonly route: Route;
	#host: SessionHost;
	#limiter: RateLimiter | undefined;
	#phase: PhaseValue = Phase.Ready;
	/** Frames that arrived while the token was verified; only then is there an array. */
	#held: string[] | undefined;
	#heldBytes = 0;
	#holdsAuthSlot = false;
	#deadline: ReturnType<typeof setTimeout> | undefined;
	/** The id of a first-frame `auth` sent as a request, answered once it passed. */
	#authRequestId: number | undefined;

	constructor(connection: Connection<unknown>, route: Route, host: SessionHost) {
		this.connection = connection;
		this.route = route;
		this.#host = host;
		this.#limiter = route.rateLimiter();
	}

	/**
	 * Takes `socket`'s frames, pings, pongs, errors and its close, which goes to the host.
	 *
	 * @example
	 * ```ts
	 * session.listen(ws);
	 * ```
	 */
	listen(socket: WebSocket): void {
		sessionOfSocket.set(socket, this);
		socket.on('message', onSocketMessage);
		socket.on('ping', onSocketPing);
		socket.on('pong', onSocketPong);
		socket.on('error', onSocketError);
		socket.on('close', onSocketClose);
	}

	/** The socket failed (a protocol error, a reset): the close follows; the error is reported. */
	socketFailed(error: Error): void {
		this.#host.report(this.connection, error);
	}

	/** The socket closed: the host forgets the connection. */
	socketClosed(code: number, reason: string): void {
		this.#host.closed(this, code, reason);
	}

	/** Waits for the first-message token, or is ready at once with the upgrade's `authData`. */
	start(authData: unknown): void {
		const { route } = this;
		if (!route.options.firstMessageAuth) return this.#becomeReady(authData);
		if (route.pendingAuth >= route.maxPendingAuth) {
			return this.#refuse(TOO_MANY_PENDING, 'Too many pending connections');
		}
		route.pendingAuth++;
		this.#holdsAuthSlot = true;
		this.#enter(Phase.AwaitingToken, () => this.#refuse(AUTH_TIMEOUT, 'Authentication timeout'));
	}

	/** A data frame. */
	receive(data: Buffer, isBinary: boolean): void {
		this.route.metrics.messagesReceived++;
		if (!this.#admit(isBinary ? undefined : data)) return;
		if (isBinary) {
			return void this.connection.fail(ErrorCode.Malformed, 'Binary frames are not supported');
		}
		const frame = data.toString();
		if (this.#phase == Phase.Ready) return this.#host.dispatch(this, frame);
		if (this.#phase == Phase.Verifying) return this.#hold(frame, data.length);
		try {
			this.#verify(frame);
		} catch (error) {
			// What the server does once a connection is ready must not throw into `ws`'s parser.
			this.#host.report(this.connection, error);
		}
	}

	/** A WebSocket ping: answered only while the rate limit allows (`ws` would answer every one). */
	receivePing(data: Buffer): void {
		if (this.#admit(undefined, { silently: true })) this.connection.pong(data);
	}

	/** A WebSocket pong: proof of life, and a frame like any other for the rate limit. */
	receivePong(): void {
		this.#admit(undefined, { silently: true });
	}

	/** Decides to close: from now on nothing is read; the pending-auth slot is free at once. */
	close(code: number, reason: string): void {
		this.#enter(Phase.Closed);
		this.connection.close(code, reason);
	}

	/** Refuses authentication: counted by close code, then closed. */
	#refuse(code: number, reason: string): void {
		this.route.metrics.authRefused(code);
		this.close(code, reason);
	}

	/** Closes a flooding peer with 1008 and reads nothing more from it, not even its flood's tail. */
	#shutOut(reason: string): void {
		this.close(POLICY_VIOLATION, reason);
		this.connection.stopReading();
	}

	/** The socket closed (either end): release whatever the session still holds. */
	end(): void {
		this.#enter(Phase.Closed);
	}

	/**
	 * Counts one inbound frame. A refused frame is answered `rate_limited` (under its request id when
	 * it ends with one) unless `silently`; too many refusals close the connection with 1008.
	 */
	#admit(data: Buffer | undefined, { silently = false } = {}): boolean {
		if (this.#phase == Phase.Closed || !this.connection.isOpen) return false;
		this.connection.alive = true;
		const verdict = this.#limiter?.take(Date.now()) ?? 'accept';
		if (verdict == 'accept') return true;
		this.route.metrics.rateLimited++;
		if (verdict == 'close') this.#shutOut('Rate limit exceeded');
		else if (!silently) {
			const id = data && trailingRequestId(data.subarray(-32).toString('latin1'));
			this.connection.fail(ErrorCode.RateLimited, 'Too many messages: slow down', id);
		}
		return false;
	}

	/**
	 * Checks the first frame's token. A verifier that answers at once is settled at once; one that
	 * returns a promise puts the session in the Verifying phase (later frames held, a deadline) until
	 * it settles. Skipping that phase when there is nothing to wait for spares every connection a
	 * timer, a promise chain and a turn.
	 */
	#verify(frame: string): void {
		const token = tokenFromFirstFrame(frame);
		if (!token) return this.#settle({ success: false, reason: 'Expected an auth message first' });
		this.#authRequestId = authRequestId(frame);
		let answer: unknown;
		try {
			answer = this.route.options.firstMessageAuth!.verify(token, this.connection.req);
		} catch (error) {
			return this.#settle(this.#verifyFailed(error));
		}
		if (!isPromiseLike(answer)) return this.#settle(authResult(answer));
		this.#enter(Phase.Verifying, () =>
			this.#refuse(INTERNAL_ERROR, 'Authentication took too long')
		);
		Promise.resolve(answer)
			.then(authResult, (error: unknown) => this.#verifyFailed(error))
			.then((result) => {
				// Closed meanwhile (deadline, rate limit, peer left): the answer is of no use any more.
				if (this.#phase == Phase.Verifying) this.#settle(result);
			})
			.catch((error: unknown) => this.#host.report(this.connection, error));
	}

	/** A verifier that threw or rejected is a failure of the server: reported, and closed with 1011. */
	#verifyFailed(error: unknown): AuthResult<unknown> {
		this.#host.report(this.connection, error);
		return { success: false, code: INTERNAL_ERROR, reason: 'Authentication failed' };
	}

	#settle(result: AuthResult<unknown>): void {
		if (!result.success) {
			return this.#refuse(refusalCloseCode(result.code), result.reason ?? 'Invalid token');
		}
		this.#becomeReady(result.data);
	}

	/** Keeps a frame until the token is checked; the cap counts the bytes that came in, not UTF-16 units. */
	#hold(frame: string, bytes: number): void {
		const held = (this.#held ??= []);
		this.#heldBytes += bytes;
		if (held.length >= MAX_FRAMES_BEFORE_AUTH || this.#heldBytes > MAX_BYTES_BEFORE_AUTH) {
			return this.#shutOut('Too many messages before authentication');
		}
		held.push(frame);
	}

	#becomeReady(authData: unknown): void {
		const held = this.#held;
		this.#enter(Phase.Ready);
		this.#host.ready(this, authData);
		const authRequest = this.#authRequestId;
		if (authRequest !== undefined && this.connection.isOpen) {
			this.connection.sendReserved(REPLY_MESSAGE, null, authRequest);
		}
		for (const frame of held ?? []) {
			if (this.#phase != Phase.Ready || !this.connection.isOpen) return;
			this.#host.dispatch(this, frame);
		}
	}

	/** The one phase transition: tears down the previous phase's deadline and auth slot. */
	#enter(phase: PhaseValue, onDeadline?: () => void): void {
		clearTimeout(this.#deadline);
		this.#deadline = undefined;
		if (phase == Phase.Ready || phase == Phase.Closed) {
			this.#held = undefined;
			this.#heldBytes = 0;
			if (this.#holdsAuthSlot) this.route.pendingAuth--;
			this.#holdsAuthSlot = false;
		}
		this.#phase = phase;
		if (onDeadline) this.#deadline = setTimeout(onDeadline, this.route.authTimeout);
	}
}
