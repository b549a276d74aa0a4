import type { IncomingMessage } from 'node:http';

/**
 * The token in an HTTP header of the upgrade request, without a `Bearer ` prefix.
 *
 * @example
 * ```ts
 * defineRoute({
 *	path: '/ws',
 *	authenticate: async (request) => {
 *		const user = await verify(tokenFromHeader(request)); // Authorization: Bearer <token>
 *		return user ? { success: true, data: user } : { success: false, code: 401 };
 *	}
 * });
 * ```
 */
export function tokenFromHeader(
	request: IncomingMessage,
	name = 'authorization'
): string | undefined {
	const value = request.headers[name.toLowerCase()];
	const header = Array.isArray(value) ? value[0] : value;
	return header?.replace(/^Bearer\s+/i, '') || undefined;
}

/**
 * The value of a cookie sent with the upgrade request (URL-decoded).
 *
 * @example
 * ```ts
 * defineRoute({
 *	path: '/ws',
 *	authenticate: async (request) => {
 *		const user = await sessions.find(tokenFromCookie(request, 'session'));
 *		return user ? { success: true, data: user } : { success: false, code: 401 };
 *	}
 * });
 * ```
 */
export function tokenFromCookie(request: IncomingMessage, name = 'session'): string | undefined {
	for (const pair of (request.headers.cookie ?? '').split(';')) {
		const separator = pair.indexOf('=');
		if (separator < 0 || pair.slice(0, separator).trim() != name) continue;
		try {
			return decodeURIComponent(pair.slice(separator + 1).trim()) || undefined;
		} catch {
			return undefined;
		}
	}
	return undefined;
}

/**
 * A query parameter of the upgrade URL. Tokens in URLs end up in access logs: prefer first-message
 * auth, a header or a cookie where the client allows it.
 *
 * @example
 * ```ts
 * defineRoute({
 *	path: '/ws',
 *	authenticate: async (request) => {
 *		const user = await verify(tokenFromQuery(request, 'token')); // /ws?token=…
 *		return user ? { success: true, data: user } : { success: false, code: 401 };
 *	}
 * });
 * ```
 */
export function tokenFromQuery(request: IncomingMessage, name = 'token'): string | undefined {
	return new URL(request.url ?? '/', 'http://localhost').searchParams.get(name) || undefined;
}
