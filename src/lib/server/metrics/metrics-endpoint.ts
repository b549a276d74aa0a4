import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus-text.js';

/**
 * What `metricsRequestHandler` serves: anything with a `metrics()` that returns the exposition text
 * (a `SocketServer`).
 */
export interface MetricsSource {
	metrics(): string;
}

/**
 * Options of `metricsRequestHandler`.
 */
export interface MetricsEndpointOptions {
	/** The bearer token a scraper must send. Without one (undefined or empty) the path answers 404. */
	token: string | undefined;
	/** The path served. Default `/metrics`. */
	path?: string;
}

/**
 * Hashes first, so that the comparison takes the same time whatever the lengths: `timingSafeEqual`
 * only compares buffers of one length, and returning early on a length mismatch would tell it.
 */
function sameSecret(given: string, expected: string): boolean {
	const digest = (text: string) => createHash('sha256').update(text).digest();
	return timingSafeEqual(digest(given), digest(expected));
}

function bearerToken(request: IncomingMessage): string | undefined {
	const match = /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '');
	return match?.[1];
}

function answer(
	response: ServerResponse,
	status: number,
	body: string,
	headers: Record<string, string> = {}
): void {
	response
		.writeHead(status, {
			'Content-Type': 'text/plain; charset=utf-8',
			'Cache-Control': 'no-store',
			// Text, whatever a browser that opened it would guess.
			'X-Content-Type-Options': 'nosniff',
			...headers
		})
		.end(body);
}

/**
 * An HTTP request handler for the metrics path: it answers `GET /metrics` with `source.metrics()`
 * when the request carries `Authorization: Bearer <token>` (compared in constant time), 401 when it
 * does not, 405 for other methods, and 404 when no token is configured (the metrics are never
 * public by accident). It returns `false`, without answering, for every other path, so the app
 * handles those.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 *
 * const serveMetrics = metricsRequestHandler(sockets, { token: process.env.METRICS_TOKEN });
 * const http = createServer((request, response) => {
 * 	if (!serveMetrics(request, response)) app(request, response);
 * });
 * ```
 */
export function metricsRequestHandler(
	source: MetricsSource,
	{ token, path = '/metrics' }: MetricsEndpointOptions
): (request: IncomingMessage, response: ServerResponse) => boolean {
	return (request, response) => {
		const url = request.url ?? '';
		const query = url.indexOf('?');
		if ((query < 0 ? url : url.slice(0, query)) != path) return false;
		if (!token) {
			answer(response, 404, 'Not Found');
		} else if (request.method != 'GET' && request.method != 'HEAD') {
			answer(response, 405, 'Method Not Allowed', { Allow: 'GET, HEAD' });
		} else if (!sameSecret(bearerToken(request) ?? '', token)) {
			answer(response, 401, 'Unauthorized', { 'WWW-Authenticate': 'Bearer' });
		} else {
			answer(response, 200, request.method == 'HEAD' ? '' : source.metrics(), {
				'Content-Type': PROMETHEUS_CONTENT_TYPE
			});
		}
		return true;
	};
}
