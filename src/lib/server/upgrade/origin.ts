import type { IncomingMessage } from 'node:http';

/**
 * Which browser origins may open a socket: `'same-host'` (default: the `Origin` header's host must
 * equal the request's `Host`), `'any'`, a list of origins (`https://app.example.com`), or a function.
 * Requests without an `Origin` header (non-browser clients) are allowed: the check exists against
 * cross-site WebSocket hijacking, which only browsers can be tricked into.
 */
export type OriginPolicy =
	'same-host' | 'any' | readonly string[] | ((origin: string, request: IncomingMessage) => boolean);

/**
 * Whether the upgrade request's `Origin` passes `policy`.
 */
export function isOriginAllowed(request: IncomingMessage, policy: OriginPolicy): boolean {
	const origin = request.headers.origin;
	if (!origin || policy == 'any') return true;
	if (typeof policy == 'function') return policy(origin, request);
	if (policy == 'same-host') {
		try {
			return new URL(origin).host == request.headers.host;
		} catch {
			return false;
		}
	}
	return policy.includes(origin);
}
