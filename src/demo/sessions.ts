import { CloseCode } from 'runesocket';
import type { AuthResult } from 'runesocket/server';
import {
	checkSession,
	newSessionId,
	signSession,
	type DemoSession,
	type DemoUser,
	type TokenRefusal
} from './session.js';

/**
 * Where revoked sessions are kept: in the process for one process, in Redis for several. An entry
 * only has to outlive every token of its session, so it is kept `ttl` ms and then forgotten.
 */
export interface SessionRevocations {
	revokeSession(sid: string, ttl: number): Promise<void>;
	isSessionRevoked(sid: string): Promise<boolean>;
}

/** Why a token is refused: not a session of this server, past its `exp`, or signed out. */
export type SessionRefusal = TokenRefusal | 'revoked';

/** A token's live session, or why it has none. */
export type SessionVerdict =
	{ session: DemoSession; refusal?: undefined } | { session?: undefined; refusal: SessionRefusal };

/**
 * How far two processes' clocks may disagree: a token's `exp` is set by one process and checked by
 * another, so a revocation is kept this much longer than the newest token could live.
 */
const CLOCK_SKEW = 60_000;

/**
 * The demo's sessions: signing tokens, checking them (format, signature, expiry, revocation), and
 * revoking a session for good. Every place that accepts a session asks `verify`: page loads, form
 * actions, the token endpoint, and the socket route (its first token and each refresh).
 */
export class DemoSessions {
	readonly #revocations: SessionRevocations;
	readonly #lifetime: number;
	readonly #now: () => number;

	constructor(revocations: SessionRevocations, lifetime: number, now: () => number = Date.now) {
		this.#revocations = revocations;
		this.#lifetime = lifetime;
		this.#now = now;
	}

	/** How long a token is good, in ms: the cookie's lifetime too. */
	get lifetime(): number {
		return this.#lifetime;
	}

	/** A token for `user`: a new session, or a fresh token of the session `sid` (its expiry renewed). */
	issue(user: DemoUser, sid = newSessionId()): { token: string; expiresAt: number } {
		const now = this.#now();
		const token = signSession(user, { sid, now, lifetime: this.#lifetime });
		return { token, expiresAt: now + this.#lifetime };
	}

	/** The token's session if it is well-formed, signed here, not expired and not revoked. */
	async verify(token: string | undefined): Promise<SessionVerdict> {
		const { session, refusal } = checkSession(token, this.#now());
		if (refusal) return { refusal };
		if (await this.#revocations.isSessionRevoked(session.sid)) return { refusal: 'revoked' };
		return { session };
	}

	/**
	 * Revokes the session of a token signed here, expired or not (a newer token of the same session
	 * may still be good); the session it revoked, or `undefined` for a token that names none. Every
	 * token of the session was signed by now, so none outlives `lifetime` from now: the revocation is
	 * kept that long, and the list stays as short as the sign-outs of one lifetime.
	 */
	async revoke(token: string | undefined): Promise<DemoSession | undefined> {
		const { session } = checkSession(token, this.#now());
		if (!session) return undefined;
		await this.#revocations.revokeSession(session.sid, this.#lifetime + CLOCK_SKEW);
		return session;
	}
}

/** What a socket whose token is refused is told; a revoked session's stops reconnecting (4004). */
const SOCKET_REFUSALS: Record<SessionRefusal, { code?: number; reason: string }> = {
	invalid: { reason: 'Sign in again' },
	expired: { reason: 'Session expired' },
	revoked: { code: CloseCode.SessionRevoked, reason: 'Session revoked' }
};

/**
 * The socket route's answer to a token, first or refreshed: accepted while its session is, until
 * the token's `exp` (the route asks the page for a new token ahead of it, and closes the socket if
 * none comes). Refused with 4001 and why, or 4004 for a revoked session, which the page does not
 * retry.
 */
export async function socketAuth(
	sessions: DemoSessions,
	token: string
): Promise<AuthResult<DemoSession>> {
	const { session, refusal } = await sessions.verify(token);
	if (refusal) return { success: false, ...SOCKET_REFUSALS[refusal] };
	return { success: true, data: session, expiresAt: session.exp };
}

/**
 * Revocations kept in this process. Every entry lives equally long, so the map's insertion order is
 * the order they expire in, and the expired ones are dropped from its front.
 */
export class MemorySessionRevocations implements SessionRevocations {
	readonly #until = new Map<string, number>();
	readonly #now: () => number;

	constructor(now: () => number = Date.now) {
		this.#now = now;
	}

	async revokeSession(sid: string, ttl: number): Promise<void> {
		this.#forgetExpired();
		this.#until.delete(sid);
		this.#until.set(sid, this.#now() + ttl);
	}

	async isSessionRevoked(sid: string): Promise<boolean> {
		const until = this.#until.get(sid);
		return until !== undefined && this.#now() < until;
	}

	#forgetExpired(): void {
		const now = this.#now();
		for (const [sid, until] of this.#until) {
			if (until > now) return;
			this.#until.delete(sid);
		}
	}
}
