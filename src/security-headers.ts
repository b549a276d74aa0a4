import type { Handle } from '@sveltejs/kit';

/**
 * Headers every page and endpoint of the app carries, besides the Content-Security-Policy that
 * SvelteKit builds from `kit.csp` (svelte.config.js).
 *
 * @example
 * ```ts
 * response.headers.set('x-frame-options', SECURITY_HEADERS['x-frame-options']); // 'DENY'
 * ```
 */
export const SECURITY_HEADERS = {
	// For browsers that predate CSP's frame-ancestors: no page of the demo may be framed.
	'x-frame-options': 'DENY',
	'x-content-type-options': 'nosniff',
	// The demo links nowhere else; other sites learn nothing of its URLs.
	'referrer-policy': 'same-origin'
} as const;

/** A host as a CSP source may name it: a name or an address, and a port. Nothing that could end a directive. */
const SAFE_HOST = /^[a-z0-9.-]+(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/i;

/**
 * The policy with `ws://host` and `wss://host` added to its `connect-src`: the dashboard's socket
 * goes to the page's own host, which `'self'` covers only in browsers that follow CSP Level 3.
 * The host comes from the request, so one that could smuggle in a directive is not added.
 *
 * @example
 * ```ts
 * withSocketSources("connect-src 'self'", 'localhost:3000');
 * // "connect-src 'self' ws://localhost:3000 wss://localhost:3000"
 * ```
 */
export function withSocketSources(policy: string, host: string): string {
	if (!SAFE_HOST.test(host)) return policy;
	return policy
		.split(';')
		.map((directive) =>
			/^\s*connect-src(\s|$)/i.test(directive)
				? `${directive.trimEnd()} ws://${host} wss://${host}`
				: directive
		)
		.join(';');
}

/**
 * The `handle` hook that adds `SECURITY_HEADERS` to every response SvelteKit renders, and lets its
 * pages open their socket to their own host.
 *
 * @example
 * ```ts
 * // src/hooks.server.ts
 * export const handle = securityHeaders;
 * ```
 */
export const securityHeaders: Handle = async ({ event, resolve }) => {
	const response = await resolve(event);
	for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.headers.set(name, value);
	const policy = response.headers.get('content-security-policy');
	if (policy)
		response.headers.set('content-security-policy', withSocketSources(policy, event.url.host));
	return response;
};
