import { INTERNAL_ERROR, INVALID_TOKEN } from '../../protocol/close-codes.js';
import {
	AUTH_MESSAGE,
	AUTH_REFRESH_MESSAGE,
	isRecord,
	REPLY_MESSAGE
} from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { withDeadline } from '../../engine/errors.js';
import type { Connection } from '../connection.js';
import { authResult, ROUTE_DEFAULTS, type AuthResult } from '../options.js';
import type { Route } from '../route.js';

/**
 * Where a connection's authentication stands in time. Every change goes through
 * `TokenRefresh.#enter`, which clears the previous state's timer:
 * - `open-ended`: its answer carried no `expiresAt` (or there is none yet): nothing is scheduled.
 * - `valid`: it expires later; a timer sends `auth.refresh` at `expiresAt - lead`.
 * - `due`: `auth.refresh` was sent (or the route has no refresh verifier, so none is): a timer
 *   closes the connection with 4001 at `expiresAt` unless a refresh is accepted first.
 * - `ended`: the connection is closing or closed; answers that arrive now are dropped.
 *
 *     open-ended ─┐       accepted refresh (new expiresAt, or none → open-ended)
 *     valid ──────┼─ lead reached: auth.refresh ─► due ── expiresAt: close 4001 ─► ended
 *                 └──────────────── refused, other user, closed ─────────────────► ended
 */
export type Lease = 'open-ended' | 'valid' | 'due' | 'ended';

/** Node fires a timer set for longer than this at once, so longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** The answer to an `auth` frame on an open connection of a route that verifies no refreshed token. */
export const NO_TOKEN_EXPECTED = 'No token is expected on this route: it has no refresh verifier';

/** The answer to an `auth` frame on an open connection that names no token. */
const TOKEN_NEEDED = `"${AUTH_MESSAGE}" needs {"token": string} with a non-empty token`;

/** The answer to refresh requests whose verifier threw, rejected or hung. */
const NOT_VERIFIED =
	'Could not verify the token: the connection keeps its authentication until it expires';

/** Checks a refreshed token against a connection (the route's `tokenRefresh.verify`, or its default). */
type RefreshVerifier = (token: string, connection: Connection<unknown>) => unknown;

/**
 * The route's refresh verifier: `tokenRefresh.verify`, else `firstMessageAuth.verify` given the
 * connection's upgrade request; none on a route that has neither (an `authenticate` route without
 * `tokenRefresh.verify`, or one without authentication).
 */
export function refreshVerifier(route: Route): RefreshVerifier | undefined {
	const { tokenRefresh, firstMessageAuth } = route.options;
	if (tokenRefresh?.verify) return tokenRefresh.verify;
	if (firstMessageAuth)
		return (token, connection) => firstMessageAuth.verify(token, connection.req);
	return undefined;
}

/**
 * When to send `auth.refresh` for an answer that, `now`, has `expiresAt - now` ms left: `lead` ms
 * before `expiresAt` (default 60 000), but never more than half the time left, so a short-lived
 * token is used for a while before it is renewed.
 */
export function refreshAt(route: Route, expiresAt: number, now: number): number {
	const lead = route.options.tokenRefresh?.lead ?? ROUTE_DEFAULTS.refreshLead;
	return expiresAt - Math.min(lead, Math.max(0, expiresAt - now) / 2);
}

/** A refusal closes with the app's own 4xxx code (or 1011), else 4001 invalid token. */
export function refusalCloseCode(code: unknown): number {
	if (code === INTERNAL_ERROR) return code;
	return typeof code == 'number' && Number.isInteger(code) && code >= 4000 && code <= 4999
		? code
		: INVALID_TOKEN;
}

/** What a `TokenRefresh` asks of its session. */
export interface RefreshOwner {
	readonly connection: Connection<unknown>;
	readonly route: Route;
	/** Refuses the connection's authentication: counted by close code, then closed. */
	refuse(code: number, reason: string): void;
	/** Closes the connection (its authentication expired). */
	close(code: number, reason: string): void;
	/** A refreshed token was accepted and is the connection's authentication now. */
	renewed(): void;
	/** A verifier failed (threw, rejected, hung). */
	report(error: unknown): void;
}

/** How a refresh's verification ended: the verifier's answer, or its failure. */
type Outcome = { answer: AuthResult<unknown> } | { failure: unknown };

/**
 * One connection's authentication over time (PROTOCOL.md, "Token refresh"): asks the client for a
 * new token ahead of `expiresAt`, closes it with 4001 at `expiresAt` unless one was accepted, and
 * verifies the tokens the client sends on the open socket. Made by its session only when the first
 * answer expires or the client sends a token: most connections never pay for one.
 */
export class TokenRefresh {
	#owner: RefreshOwner;
	#lease: Lease = 'open-ended';
	#timer: ReturnType<typeof setTimeout> | undefined;
	#expiresAt = Infinity;
	/** The number of the newest refresh under way: only its answer counts. */
	#newest = 0;
	/** Ids of the refresh requests that the newest one's outcome answers; made by the first. */
	#waiting: number[] | undefined;

	constructor(owner: RefreshOwner) {
		this.#owner = owner;
	}

	get lease(): Lease {
		return this.#lease;
	}

	/**
	 * Schedules what follows an accepted answer that expires at `expiresAt` (none: nothing). With a
	 * refresh verifier it asks for a new token first; without one it only closes at expiry.
	 */
	start(expiresAt: number | undefined): void {
		if (this.#lease == 'ended') return;
		if (expiresAt === undefined) return this.#enter('open-ended');
		this.#expiresAt = expiresAt;
		if (!refreshVerifier(this.#owner.route)) return this.#enter('due', expiresAt);
		this.#enter('valid', refreshAt(this.#owner.route, expiresAt, Date.now()));
	}

	/** An `auth` frame on the open connection: verified, while frames go on under the old auth data. */
	receive(data: unknown, id: number | undefined): void {
		const { connection, route } = this.#owner;
		if (this.#lease == 'ended') return;
		const verify = refreshVerifier(route);
		if (!verify) return void connection.fail(ErrorCode.Malformed, NO_TOKEN_EXPECTED, id);
		const token = isRecord(data) ? data.token : undefined;
		if (typeof token != 'string' || !token) {
			return void connection.fail(ErrorCode.Malformed, TOKEN_NEEDED, id);
		}
		const attempt = ++this.#newest;
		if (id !== undefined) (this.#waiting ??= []).push(id);
		withDeadline(() => verify(token, connection), route.authTimeout, 'tokenRefresh.verify')
			.then(
				(answer): Outcome => ({ answer: authResult(answer) }),
				(failure: unknown): Outcome => ({ failure })
			)
			.then((outcome) => {
				// A newer refresh supersedes this one; a closed connection needs no answer.
				if (attempt == this.#newest && this.#lease != 'ended') this.#settle(outcome);
			})
			.catch((error: unknown) => this.#owner.report(error));
	}

	/** The connection is closing: nothing more is scheduled or answered. */
	end(): void {
		this.#enter('ended');
	}

	#settle(outcome: Outcome): void {
		const { connection, route } = this.#owner;
		if ('failure' in outcome) {
			this.#owner.report(outcome.failure);
			return this.#answer((id) => connection.fail(ErrorCode.Internal, NOT_VERIFIED, id));
		}
		const { answer } = outcome;
		if (!answer.success) {
			return this.#refuse(refusalCloseCode(answer.code), answer.reason ?? 'Invalid token');
		}
		if (route.userIdOf(connection, answer.data) !== connection.userId) {
			return this.#refuse(INVALID_TOKEN, 'Token is for another user');
		}
		if (answer.expiresAt !== undefined && answer.expiresAt <= Date.now()) {
			return this.#refuse(INVALID_TOKEN, 'Token expired');
		}
		connection.authenticate(answer.data);
		this.start(answer.expiresAt);
		this.#answer((id) => connection.sendReserved(REPLY_MESSAGE, null, id));
		this.#owner.renewed();
	}

	#refuse(code: number, reason: string): void {
		this.#waiting = undefined;
		this.#owner.refuse(code, reason);
	}

	/** Answers every refresh request the settled outcome stands for. */
	#answer(send: (id: number) => void): void {
		const waiting = this.#waiting;
		this.#waiting = undefined;
		for (const id of waiting ?? []) send(id);
	}

	/** Time is up for the current state (`valid` or `due`). */
	#due(): void {
		const { connection } = this.#owner;
		if (this.#lease == 'due') return this.#owner.close(INVALID_TOKEN, 'Token expired');
		const expiresIn = Math.max(0, Math.round(this.#expiresAt - Date.now()));
		connection.sendReserved(AUTH_REFRESH_MESSAGE, { expiresIn });
		this.#enter('due', this.#expiresAt);
	}

	/** The one state transition: clears the previous state's timer, and sets this one's for `at`. */
	#enter(lease: Lease, at?: number): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		this.#lease = lease;
		if (lease == 'ended') this.#waiting = undefined;
		if (at !== undefined) this.#arm(at);
	}

	/** Sets the timer for `at`, in steps of at most `MAX_TIMER_MS`. */
	#arm(at: number): void {
		const wait = at - Date.now();
		const step = Math.max(0, Math.min(wait, MAX_TIMER_MS));
		this.#timer = setTimeout(() => (wait > MAX_TIMER_MS ? this.#arm(at) : this.#due()), step);
		// The server's own handles keep the process alive; a connection's clock need not.
		this.#timer.unref?.();
	}
}
