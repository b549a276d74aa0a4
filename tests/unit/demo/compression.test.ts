import type { Handle } from '@sveltejs/kit';
import { brotliDecompressSync, createGunzip, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
	chooseEncoding,
	compressResponse,
	compressResponses,
	isCompressible
} from '../../../src/compression.js';
import { within } from '../../kit/wait.js';

// The app's compression hook (src/hooks.server.ts) with real Request and Response objects; the
// e2e test tests/e2e/dashboard-load.test.ts checks it on the built server over HTTP.

/** A page big enough to be worth compressing, and repetitive as HTML is. */
const PAGE = `<!doctype html><html><body>${'<li class="monitor">Checkout is up</li>'.repeat(200)}</body></html>`;

const HTML = { 'content-type': 'text/html; charset=utf-8' };

function get(acceptEncoding?: string, method = 'GET'): Request {
	const headers: Record<string, string> = acceptEncoding
		? { 'accept-encoding': acceptEncoding }
		: {};
	return new Request('http://127.0.0.1:3000/', { method, headers });
}

async function bytes(response: Response): Promise<Buffer> {
	return Buffer.from(await response.arrayBuffer());
}

describe('chooseEncoding', () => {
	it('prefers brotli, then gzip, among what the request accepts', () => {
		expect(chooseEncoding('gzip, deflate, br, zstd')).toBe('br');
		expect(chooseEncoding('gzip, deflate')).toBe('gzip');
		expect(chooseEncoding('GZip')).toBe('gzip');
		expect(chooseEncoding('deflate')).toBeUndefined();
		expect(chooseEncoding('identity')).toBeUndefined();
		expect(chooseEncoding('')).toBeUndefined();
		expect(chooseEncoding(null)).toBeUndefined();
	});

	it('follows the weights: the highest wins, q=0 refuses, * covers what is not named', () => {
		expect(chooseEncoding('br;q=0.5, gzip;q=0.8')).toBe('gzip');
		expect(chooseEncoding('br;q=0, gzip')).toBe('gzip');
		expect(chooseEncoding('br;q=0, gzip;q=0')).toBeUndefined();
		expect(chooseEncoding('*')).toBe('br');
		expect(chooseEncoding('br;q=0, *;q=0.1')).toBe('gzip');
		expect(chooseEncoding('gzip;q=nonsense')).toBeUndefined();
	});
});

describe('isCompressible', () => {
	it('takes text, JSON, JavaScript, XML and SVG', () => {
		for (const type of [
			'text/html; charset=utf-8',
			'text/plain',
			'text/css',
			'application/json',
			'application/javascript',
			'application/manifest+json',
			'application/ld+json',
			'application/xml',
			'image/svg+xml'
		]) {
			expect(isCompressible(type), type).toBe(true);
		}
	});

	it('leaves compressed formats, binary data and event streams alone', () => {
		for (const type of [
			'image/png',
			'font/woff2',
			'application/gzip',
			'application/octet-stream',
			'text/event-stream',
			'application/jsonp-not-really'
		]) {
			expect(isCompressible(type), type).toBe(false);
		}
		expect(isCompressible(null)).toBe(false);
	});
});

describe('compressResponse', () => {
	it('sends a page brotli-compressed to a browser, which decodes it to the same text', async () => {
		const response = compressResponse(
			get('gzip, deflate, br, zstd'),
			new Response(PAGE, {
				status: 200,
				headers: { ...HTML, 'content-length': String(PAGE.length), etag: '"v1"' }
			})
		);
		expect(response.headers.get('content-encoding')).toBe('br');
		expect(response.headers.get('content-length')).toBeNull();
		expect(response.headers.get('vary')).toBe('Accept-Encoding');
		expect(response.headers.get('etag')).toBe('W/"v1"');
		expect(response.headers.get('content-type')).toBe(HTML['content-type']);
		const body = await bytes(response);
		expect(body.byteLength).toBeLessThan(PAGE.length / 10);
		expect(brotliDecompressSync(body).toString()).toBe(PAGE);
	});

	it('gzips for a client that accepts only gzip, keeping status, cookies and Vary', async () => {
		const response = compressResponse(
			get('gzip'),
			new Response(JSON.stringify({ monitors: PAGE }), {
				status: 400,
				statusText: 'Bad Request',
				headers: {
					'content-type': 'application/json',
					'set-cookie': 'session=abc; Path=/; HttpOnly',
					vary: 'Accept'
				}
			})
		);
		expect(response.status).toBe(400);
		expect(response.statusText).toBe('Bad Request');
		expect(response.headers.get('content-encoding')).toBe('gzip');
		expect(response.headers.get('set-cookie')).toBe('session=abc; Path=/; HttpOnly');
		expect(response.headers.get('vary')).toBe('Accept, Accept-Encoding');
		expect(JSON.parse(gunzipSync(await bytes(response)).toString())).toEqual({ monitors: PAGE });
	});

	it('sends the body as it is to a client that accepts no compression, still with Vary', async () => {
		for (const accept of [undefined, 'identity', 'br;q=0, gzip;q=0']) {
			const response = compressResponse(get(accept), new Response(PAGE, { headers: HTML }));
			expect(response.headers.get('content-encoding'), accept).toBeNull();
			expect(response.headers.get('vary'), accept).toBe('Accept-Encoding');
			expect((await bytes(response)).toString(), accept).toBe(PAGE);
		}
	});

	it('leaves alone what has no body, is encoded already, not text, a range, or marked no-transform', async () => {
		const untouched: [string, Request, Response][] = [
			['HEAD', get('br', 'HEAD'), new Response(null, { headers: HTML })],
			['204', get('br'), new Response(null, { status: 204, headers: HTML })],
			['304', get('br'), new Response(null, { status: 304, headers: HTML })],
			['206', get('br'), new Response(PAGE, { status: 206, headers: HTML })],
			['image', get('br'), new Response(PAGE, { headers: { 'content-type': 'image/png' } })],
			['no type', get('br'), new Response(new Uint8Array(4096))],
			[
				'encoded',
				get('br'),
				new Response(PAGE, { headers: { ...HTML, 'content-encoding': 'gzip' } })
			],
			[
				'no-transform',
				get('br'),
				new Response(PAGE, { headers: { ...HTML, 'cache-control': 'public, no-transform' } })
			],
			[
				'event stream',
				get('br'),
				new Response(PAGE, { headers: { 'content-type': 'text/event-stream' } })
			]
		];
		for (const [what, request, response] of untouched) {
			expect(compressResponse(request, response), what).toBe(response);
		}
	});

	it('sends a body under 1 KiB of known length as it is', async () => {
		const small = '{"created":"4b3c"}';
		const response = compressResponse(
			get('br'),
			new Response(small, {
				headers: { 'content-type': 'application/json', 'content-length': String(small.length) }
			})
		);
		expect(response.headers.get('content-encoding')).toBeNull();
		expect(response.headers.get('content-length')).toBe(String(small.length));
		expect(response.headers.get('vary')).toBe('Accept-Encoding');
		expect(await response.text()).toBe(small);
	});

	it('sends what a streamed page rendered first before the rest of it exists', async () => {
		let source!: ReadableStreamDefaultController<Uint8Array>;
		const body = new ReadableStream<Uint8Array>({
			start: (controller) => void (source = controller)
		});
		const response = compressResponse(get('gzip'), new Response(body, { headers: HTML }));
		const reader = response.body!.getReader();
		const gunzip = createGunzip();
		let decoded = '';
		gunzip.on('data', (chunk: Buffer) => (decoded += chunk.toString()));
		const decodedEnough = async (expected: string) => {
			while (!decoded.includes(expected)) {
				const { value, done } = await reader.read();
				if (done) throw new Error(`the stream ended before "${expected}"`);
				await new Promise<void>((resolve) => gunzip.write(value, () => resolve()));
				await new Promise((resolve) => setImmediate(resolve));
			}
		};

		source.enqueue(new TextEncoder().encode('<main>shell</main>'));
		// Without a flush after each chunk, the compressor holds these bytes until the body ends.
		await within(decodedEnough('<main>shell</main>'), 'the first chunk, decoded', 2_000);
		source.enqueue(new TextEncoder().encode('<p>streamed data</p>'));
		source.close();
		await within(decodedEnough('<p>streamed data</p>'), 'the second chunk, decoded', 2_000);
		expect(decoded).toBe('<main>shell</main><p>streamed data</p>');
	});
});

describe('the compression hook', () => {
	async function handle(isSubRequest: boolean): Promise<Response> {
		const request = get('gzip, br');
		const input = {
			event: { request, isSubRequest, url: new URL(request.url) },
			resolve: async () => new Response(PAGE, { headers: HTML })
		} as unknown as Parameters<Handle>[0];
		return compressResponses(input);
	}

	it('compresses what SvelteKit renders for a browser', async () => {
		const response = await handle(false);
		expect(response.headers.get('content-encoding')).toBe('br');
		expect(brotliDecompressSync(await bytes(response)).toString()).toBe(PAGE);
	});

	it("leaves SvelteKit's requests to itself plain, for the code that reads them", async () => {
		const response = await handle(true);
		expect(response.headers.get('content-encoding')).toBeNull();
		expect(await response.text()).toBe(PAGE);
	});
});
