import { json } from '@sveltejs/kit';
import { sessions } from '$demo/realtime';
import { SESSION_COOKIE, setSessionCookie } from '../session-cookie';
import type { RequestHandler } from './$types';

/** What a page is told when its session is over; it then shows the sign-in. */
const REFUSALS = {
	invalid: 'Sign in first.',
	expired: 'Your session expired: sign in again.',
	revoked: 'You signed out.'
} as const;

/**
 * A fresh token of the cookie's session (and the cookie renewed with it), for the dashboard's socket
 * when the server asks it to refresh its token or when it reconnects: `{ token, expiresAt }`, or 401
 * with `{ message }` when the session is no longer live. A POST, so no cache or prefetch keeps one;
 * another site's page may send it but can read no answer (no CORS), and the cookie is SameSite=Lax.
 */
export const POST: RequestHandler = async (event) => {
	const { session, refusal } = await sessions.verify(event.cookies.get(SESSION_COOKIE));
	const headers = { 'cache-control': 'no-store' };
	if (!session) return json({ message: REFUSALS[refusal] }, { status: 401, headers });
	const user = { name: session.name, account: session.account };
	const { token, expiresAt } = sessions.issue(user, session.sid);
	setSessionCookie(event, token, sessions.lifetime);
	return json({ token, expiresAt }, { headers });
};
