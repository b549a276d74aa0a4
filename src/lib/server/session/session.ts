import {
	AUTH_TIMEOUT,
	INTERNAL_ERROR,
	INVALID_TOKEN,
	POLICY_VIOLATION,
	TOO_MANY_PENDING
} from '../../protocol/close-codes.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import type { Connection } from '../connection.js';
import { authRequestId, trailingRequestId } from './client-input.js';
import { tokenFromFirstFrame } from './first-frame-token.js';
import { authResult, type AuthResult } from '../options.js';
import type { RateLimiter } from './rate-limiter.js';
import type { Route } from '../route.js';
import type { TransportReceiver } from '../transport/transport.js';
import { refusalCloseCode, TokenRefresh } from './token-refresh.js';

/**
 * Where a connection is on its way in. Every change goes through `Session.#enter`, which tears down
 * what the previous phase owned (its deadline, its pending-auth slot):
 * - `awaiting-token`: first-message auth, the next frame is the token. Deadline: 4002. Takes a
 *   pending-auth slot.
 * - `verifying`: the token is being verified; frames arriving meanwhile are queued in order.
 *   Deadline: 1011.
 * - `ready`: authenticated, frames are dispatched. An answer that expires (`expiresAt`) is renewed
 *   in place meanwhile by the session's `TokenRefresh`, which has its own lifecycle (`Lease`).
 * - `closed`: a close was decided, by either end; nothing more is parsed or dispatched.
 *
 *     start ─┬─ no firstMessageAuth ──────────────────────────────────────► ready
 *            └─► awaiting-token ── first frame ─┬─ verify answers at once ─► ready | closed
 *                     │                         └─ verify returns a promise
 *                     │                               └─► verifying ── settles ─► ready | closed
 *                     └─ no token in time: 4002 ─► closed      (no answer in time: 1011 ─► closed)
 *     any phase ── close decided, socket closed, flood ─► closed
 */
export type Phase = 'awaiting-token' | 'verifying' | 'ready' | 'closed';

/** Frames a connection may send while its first-message token is being checked… */
const MAX_FRAMES_BEFORE_AUTH = 100;
/** …and their bytes: 100 pending connections must not queue 100 full-size frames each. */
const MAX_BYTES_BEFORE_AUTH = 256 * 1024;

/**
 * What a session calls back (`Sessions` implements them): the moment it is ready, each frame once
 * it is, a failure, and its close.
 */
export interface SessionHandlers {
	/**
	 * The connection passed authentication with `authData`, valid until `expiresAt` (if given): greet
	 * it, run `onConnect`, then start its clock (`session.expireAt`).
	 */
	ready(session: Session, authData: unknown, expiresAt: number | undefined): void;
	/** One text frame of an authenticated connection, already admitted by the rate limit. */
	dispatch(session: Session, frame: string): void;
	/** A failure: of the socket, or of an application callback. */
	report(connection: Connection<unknown>, error: unknown): void;
	/** The socket closed with `code` and `reason`. */
	closed(session: Session, code: number, reason: string): void;
	/** A refreshed token was accepted: the connection's auth data changed, its rooms are re-checked. */
	renewed(session: Session): void;
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
	return typeof (value as PromiseLike<unknown> | undefined)?.then == 'function';
}

/**
 * One connection's way in and its inbound gate: every frame (text, binary, heartbeat, control) is
 * first counted by the rate limiter, unparsed; then the phase decides what it is — the token, a frame
 * queued while the token is verified, or a message to dispatch. Once a close is decided nothing more
 * gets through. It receives its socket's events from the transport (`transport.listen(session)`).
 */
export class Session implements TransportReceiver {
	readonly connection: Connection<unknown>;
	readonly route: Route;
	#handlers: SessionHandlers;
	#limiter: RateLimiter | undefined;
	#phase: Phase = 'ready';
	/** Frames that arrived while the token was verified; only then is there an array. */
	#queue: string[] | undefined;
	#queuedBytes = 0;
	#hasAuthSlot = false;
	#deadline: ReturnType<typeof setTimeout> | undefined;
	/**
	 * The id of a first-frame `auth` sent as a request: answered by `Sessions` right after
	 * `connected`, which may wait for the user's slot (`maxConnectionsPerUser`).
	 */
	#authRequestId: number | undefined;
	/** Its authentication over time: made when an answer expires or the client sends a new token. */
	#refresh: TokenRefresh | undefined;

	constructor(connection: Connection<unknown>, route: Route, handlers: SessionHandlers) {
		this.connection = connection;
		this.route = route;
		this.#handlers = handlers;
		this.#limiter = route.rateLimiter();
	}

	/** The id of the first frame's `auth` when it was sent as a request, to answer once greeted. */
	get authRequestId(): number | undefined {
		return this.#authRequestId;
	}

	/** The socket failed (a protocol error, a reset): the close follows; the error is reported. */
	socketFailed(error: Error): void {
		this.#handlers.report(this.connection, error);
	}

	/** The socket closed: `Sessions` takes the connection out of its rooms and forgets it. */
	socketClosed(code: number, reason: string): void {
		this.#handlers.closed(this, code, reason);
	}

	/**
	 * Waits for the first-message token, or is ready at once with the upgrade's `authData` (which
	 * expires at `expiresAt`, when the answer said so).
	 */
	start(authData: unknown, expiresAt?: number): void {
		const { route } = this;
		if (!route.options.firstMessageAuth) return this.#becomeReady(authData, expiresAt);
		if (route.pendingAuth >= route.maxPendingAuth) {
			return this.#refuse(TOO_MANY_PENDING, 'Too many pending connections');
		}
		route.pendingAuth++;
		this.#hasAuthSlot = true;
		this.#enter('awaiting-token', () => this.#refuse(AUTH_TIMEOUT, 'Authentication timeout'));
	}

	/** A data frame. */
	receive(data: Buffer, isBinary: boolean): void {
		this.route.metrics.messagesReceived++;
		if (!this.#admit(isBinary ? undefined : data)) return;
		if (isBinary) {
			return void this.connection.fail(ErrorCode.Malformed, 'Binary frames are not supported');
		}
		const frame = data.toString();
		if (this.#phase == 'ready') return this.#handlers.dispatch(this, frame);
		if (this.#phase == 'verifying') return this.#enqueue(frame, data.length);
		try {
			this.#verify(frame);
		} catch (error) {
			// What the server does once a connection is ready must not throw into the transport's parser.
			this.#handlers.report(this.connection, error);
		}
	}

	/** A WebSocket ping: answered only while the rate limit allows (the transport never answers by itself). */
	receivePing(data: Buffer): void {
		if (this.#admit(undefined, { silently: true })) this.connection.pong(data);
	}

	/** A WebSocket pong: proof of life, and a frame like any other for the rate limit. */
	receivePong(): void {
		this.#admit(undefined, { silently: true });
	}

	/**
	 * An `auth` frame on the open connection: a refreshed token (PROTOCOL.md, "Token refresh"),
	 * verified while frames go on being dispatched under the current auth data.
	 */
	renew(data: unknown, id: number | undefined): void {
		this.#tokenRefresh().receive(data, id);
	}

	/** Decides to close: from now on nothing is read; the pending-auth slot is free at once. */
	close(code: number, reason: string): void {
		this.#enter('closed');
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

	/** The socket closed (either end): the pending-auth slot and the queue go. */
	end(): void {
		this.#enter('closed');
	}

	/**
	 * Counts one inbound frame. A refused frame is answered `rate_limited` (under its request id when
	 * it ends with one) unless `silently`; too many refusals close the connection with 1008.
	 */
	#admit(data: Buffer | undefined, { silently = false } = {}): boolean {
		if (this.#phase == 'closed' || !this.connection.isOpen) return false;
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
	 * returns a promise puts the session in the `verifying` phase (later frames queued, a deadline) until
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
		this.#enter('verifying', () => this.#refuse(INTERNAL_ERROR, 'Authentication took too long'));
		Promise.resolve(answer)
			.then(authResult, (error: unknown) => this.#verifyFailed(error))
			.then((result) => {
				// Closed meanwhile (deadline, rate limit, peer left): the answer is of no use any more.
				if (this.#phase == 'verifying') this.#settle(result);
			})
			.catch((error: unknown) => this.#handlers.report(this.connection, error));
	}

	/** A verifier that threw or rejected is a failure of the server: reported, and closed with 1011. */
	#verifyFailed(error: unknown): AuthResult<unknown> {
		this.#handlers.report(this.connection, error);
		return { success: false, code: INTERNAL_ERROR, reason: 'Authentication failed' };
	}

	#settle(result: AuthResult<unknown>): void {
		if (!result.success) {
			return this.#refuse(refusalCloseCode(result.code), result.reason ?? 'Invalid token');
		}
		this.#becomeReady(result.data, result.expiresAt);
	}

	/** Queues a frame until the token is checked; the cap counts the bytes that came in, not UTF-16 units. */
	#enqueue(frame: string, bytes: number): void {
		const queue = (this.#queue ??= []);
		this.#queuedBytes += bytes;
		if (queue.length >= MAX_FRAMES_BEFORE_AUTH || this.#queuedBytes > MAX_BYTES_BEFORE_AUTH) {
			return this.#shutOut('Too many messages before authentication');
		}
		queue.push(frame);
	}

	#becomeReady(authData: unknown, expiresAt: number | undefined): void {
		// An answer that has expired already is a refusal, not a connection to close a moment later.
		if (expiresAt !== undefined && expiresAt <= Date.now()) {
			return this.#refuse(INVALID_TOKEN, 'Token expired');
		}
		const queued = this.#queue;
		this.#enter('ready');
		this.#handlers.ready(this, authData, expiresAt);
		for (const frame of queued ?? []) {
			if (this.#phase != 'ready' || !this.connection.isOpen) return;
			this.#handlers.dispatch(this, frame);
		}
	}

	/**
	 * Starts the clock of an authentication that expires at `expiresAt` (none: nothing to do). Called
	 * once the connection was greeted, which may wait for its user's slot: `auth.refresh` must not
	 * come before `connected`.
	 */
	expireAt(expiresAt: number | undefined): void {
		if (expiresAt !== undefined && this.#phase == 'ready') this.#tokenRefresh().start(expiresAt);
	}

	/** The connection's `TokenRefresh`, made on first use. */
	#tokenRefresh(): TokenRefresh {
		this.#refresh ??= new TokenRefresh({
			connection: this.connection,
			route: this.route,
			refuse: (code, reason) => this.#refuse(code, reason),
			close: (code, reason) => this.close(code, reason),
			renewed: () => this.#handlers.renewed(this),
			report: (error) => this.#handlers.report(this.connection, error)
		});
		if (this.#phase == 'closed') this.#refresh.end();
		return this.#refresh;
	}

	/** The one phase transition: tears down the previous phase's deadline and auth slot. */
	#enter(phase: Phase, onDeadline?: () => void): void {
		clearTimeout(this.#deadline);
		this.#deadline = undefined;
		if (phase == 'ready' || phase == 'closed') {
			this.#queue = undefined;
			this.#queuedBytes = 0;
			if (this.#hasAuthSlot) this.route.pendingAuth--;
			this.#hasAuthSlot = false;
		}
		if (phase == 'closed') this.#refresh?.end();
		this.#phase = phase;
		if (onDeadline) this.#deadline = setTimeout(onDeadline, this.route.authTimeout);
	}
}
