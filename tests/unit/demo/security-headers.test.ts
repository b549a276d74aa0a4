import type { Handle } from '@sveltejs/kit';
import { describe, expect, it } from 'vitest';
import {
	SECURITY_HEADERS,
	securityHeaders,
	withSocketSources
} from '../../../src/security-headers.js';

// The app's `handle` hook (src/hooks.server.ts), called as SvelteKit calls it. The policy itself
// comes from kit.csp; tests/e2e/dashboard-security.test.ts checks it on the built app in Chromium.

const KIT_POLICY =
	"default-src 'self'; script-src 'self' 'nonce-abc'; connect-src 'self'; frame-ancestors 'none'";

async function respond(url: string, headers: Record<string, string> = {}): Promise<Headers> {
	const input = {
		event: { url: new URL(url) },
		resolve: async () => new Response('<!doctype html>', { headers })
	} as unknown as Parameters<Handle>[0];
	return (await securityHeaders(input)).headers;
}

describe('the security headers hook', () => {
	it('sets X-Frame-Options DENY, nosniff and a Referrer-Policy on every response', async () => {
		for (const url of ['http://localhost:3000/', 'http://localhost:3000/?/signin']) {
			const headers = await respond(url);
			expect(headers.get('x-frame-options')).toBe('DENY');
			expect(headers.get('x-content-type-options')).toBe('nosniff');
			expect(headers.get('referrer-policy')).toBe('same-origin');
		}
		expect(Object.keys(SECURITY_HEADERS)).toHaveLength(3);
	});

	it('lets the page connect to its own host over ws: and wss:, and nowhere else', async () => {
		const headers = await respond('http://127.0.0.1:4320/', {
			'content-security-policy': KIT_POLICY
		});
		expect(headers.get('content-security-policy')).toBe(
			"default-src 'self'; script-src 'self' 'nonce-abc'; connect-src 'self' ws://127.0.0.1:4320 wss://127.0.0.1:4320; frame-ancestors 'none'"
		);
	});

	it('adds no policy to a response that had none', async () => {
		expect((await respond('http://localhost/')).get('content-security-policy')).toBeNull();
	});
});

describe('withSocketSources', () => {
	it('adds the host to connect-src wherever it is, with or without a port', () => {
		expect(withSocketSources("connect-src 'self'", 'demo.example.com')).toBe(
			"connect-src 'self' ws://demo.example.com wss://demo.example.com"
		);
		expect(withSocketSources("img-src 'self';connect-src 'self' ", '[::1]:3000')).toBe(
			"img-src 'self';connect-src 'self' ws://[::1]:3000 wss://[::1]:3000"
		);
	});

	it('leaves a policy without connect-src alone (default-src then covers sockets too)', () => {
		expect(withSocketSources("default-src 'self'", 'localhost')).toBe("default-src 'self'");
	});

	it('adds nothing when the host could end a directive or add a source', () => {
		for (const host of ["evil.example; script-src 'unsafe-inline'", 'a b', "x'", 'host:99999x']) {
			expect(withSocketSources("connect-src 'self'", host)).toBe("connect-src 'self'");
		}
	});
});
