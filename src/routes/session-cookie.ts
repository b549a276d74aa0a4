import type { Cookies } from '@sveltejs/kit';

/** The cookie that holds the session token (the same token the page's socket sends). */
export const SESSION_COOKIE = 'runesocket_session';

/**
 * Sets the session cookie to `token`, for as long as the token is good (`lifetime` ms): the browser
 * forgets it when the server would refuse it anyway.
 */
export function setSessionCookie(
	{ cookies, url }: { cookies: Cookies; url: URL },
	token: string,
	lifetime: number
): void {
	cookies.set(SESSION_COOKIE, token, {
		path: '/',
		httpOnly: true,
		sameSite: 'lax',
		secure: url.protocol == 'https:',
		maxAge: Math.ceil(lifetime / 1000)
	});
}
