import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
	checkSession,
	DEFAULT_SESSION_LIFETIME,
	PUBLIC_SECRET_WARNING,
	sessionLifetime,
	sessionSecret,
	signSession,
	verifySession
} from '../../../src/demo/session.js';

// The demo's session secret. That a production server really refuses to start without one is
// checked by spawning it: tests/e2e/dashboard-security.test.ts.

const STRONG = 'k3Jq9w0x7b2Vn8rT5yLm4Zp1Hs6Dc0Ga';

describe('the session secret', () => {
	it('falls back to the public one outside production, and says so loudly', () => {
		const warnings: string[] = [];
		const warn = (message: string) => warnings.push(message);
		expect(sessionSecret({}, warn)).toBe('runesocket-demo-secret');
		expect(sessionSecret({ NODE_ENV: 'development', DEMO_SECRET: '' }, warn)).toBe(
			'runesocket-demo-secret'
		);
		expect(warnings).toEqual([PUBLIC_SECRET_WARNING, PUBLIC_SECRET_WARNING]);
		expect(PUBLIC_SECRET_WARNING).toMatch(/WARNING: sessions are signed with the PUBLIC secret/);
		expect(PUBLIC_SECRET_WARNING).toMatch(/set DEMO_SECRET/);
		expect(sessionSecret({ NODE_ENV: 'test', DEMO_SECRET: 'short' }, warn)).toBe('short');
		expect(sessionSecret({ NODE_ENV: 'production', DEMO_SECRET: STRONG }, warn)).toBe(STRONG);
		expect(warnings).toHaveLength(2);
	});

	it('is refused in production when missing, public or short, with what to set', () => {
		const cases = {
			'': 'DEMO_SECRET is not set',
			'runesocket-demo-secret': 'DEMO_SECRET is the public default',
			'too-short-to-be-safe': 'DEMO_SECRET is shorter than 32 characters'
		};
		for (const [secret, problem] of Object.entries(cases)) {
			const refuse = () => sessionSecret({ NODE_ENV: 'production', DEMO_SECRET: secret });
			expect(refuse).toThrow(problem);
			expect(refuse).toThrow(/Set DEMO_SECRET to a random string of at least 32 characters/);
		}
		expect(() => sessionSecret({ NODE_ENV: 'production' })).toThrow('DEMO_SECRET is not set');
	});

	it('is used in production when it is long and not the public one', () => {
		expect(sessionSecret({ NODE_ENV: 'production', DEMO_SECRET: STRONG })).toBe(STRONG);
	});
});

const ADA = { name: 'Ada', account: 'acme' };
const NOW = 1_800_000_000_000;
const LIFETIME = 15 * 60_000;
const SID = 'AAAAAAAAAAAAAAAAAAAAAA';
const token = (sid = SID) => signSession(ADA, { sid, now: NOW, lifetime: LIFETIME });
const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('session tokens', () => {
	it('verify what was signed, with its session id and expiry, and nothing altered', () => {
		const signed = token();
		expect(verifySession(signed, NOW)).toEqual({ ...ADA, sid: SID, exp: NOW + LIFETIME });
		const [payload, signature] = signed.split('.');
		const forged = encode({ ...ADA, account: 'other', sid: SID, exp: NOW + LIFETIME });
		expect(verifySession(`${forged}.${signature}`, NOW)).toBeUndefined();
		expect(verifySession(`${payload}.${signature.slice(1)}`, NOW)).toBeUndefined();
		expect(verifySession(undefined, NOW)).toBeUndefined();
		expect(verifySession('', NOW)).toBeUndefined();
	});

	it('give every sign-in a session of its own', () => {
		const [first, second] = [signSession(ADA), signSession(ADA)].map((signed) =>
			verifySession(signed)
		);
		expect(first?.sid).toMatch(/^[A-Za-z0-9_-]{22}$/);
		expect(first?.sid).not.toBe(second?.sid);
	});

	it('expire at exp: good one millisecond before, refused from then on', () => {
		const signed = token();
		expect(checkSession(signed, NOW + LIFETIME - 1)).toEqual({
			session: { ...ADA, sid: SID, exp: NOW + LIFETIME }
		});
		expect(checkSession(signed, NOW + LIFETIME)).toMatchObject({ refusal: 'expired' });
		expect(verifySession(signed, NOW + LIFETIME)).toBeUndefined();
	});

	it('are refused with anything before, between or after their two segments', () => {
		const signed = token();
		const [payload, signature] = signed.split('.');
		for (const altered of [
			`${signed}.`,
			`${signed}.extra`,
			`${signed}.${signature}`,
			`${payload}.${signed}`,
			`.${signed}`,
			`x.${signed}`,
			`${payload}..${signature}`,
			`${signed} `,
			` ${signed}`,
			`${signed}\n`,
			`${payload}.${signature}=`,
			`${payload}=.${signature}`,
			`${payload}`,
			`${payload}.`,
			`.${signature}`
		]) {
			expect(checkSession(altered, NOW), altered).toEqual({ refusal: 'invalid' });
		}
	});

	it('are refused unless both segments are canonical base64url', () => {
		const [payload, signature] = token().split('.');
		// Standard base64's alphabet, and padding, are other spellings of the same bytes.
		const standard = Buffer.from(payload, 'base64url').toString('base64');
		expect(checkSession(`${standard}.${signature}`, NOW)).toEqual({ refusal: 'invalid' });
		// The last character of 43 carries 4 bits of the signature and 2 that must be zero: a
		// neighbour decodes to the same bytes and is refused.
		const last = signature.at(-1)!;
		const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
		const sibling = alphabet[alphabet.indexOf(last) ^ 1];
		const loose = `${signature.slice(0, -1)}${sibling}`;
		expect(Buffer.from(loose, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
		expect(checkSession(`${payload}.${loose}`, NOW)).toEqual({ refusal: 'invalid' });
		// Characters outside the alphabet, which Node's decoder would skip.
		expect(checkSession(`${payload.slice(0, 4)}*${payload.slice(4)}.${signature}`, NOW)).toEqual({
			refusal: 'invalid'
		});
		expect(
			checkSession(`${payload}.${signature.slice(0, 20)}+${signature.slice(21)}`, NOW)
		).toEqual({ refusal: 'invalid' });
	});

	it('are refused when their signed payload is not a session (old tokens have no sid or exp)', () => {
		// Signed with this server's secret, through a payload the signer would never make.
		for (const payload of [
			{ name: 'Ada', account: 'acme' },
			{ ...ADA, sid: 'short', exp: NOW + LIFETIME },
			{ ...ADA, sid: SID, exp: String(NOW + LIFETIME) },
			{ ...ADA, sid: SID, exp: NOW + 0.5 },
			{ name: 7, account: 'acme', sid: SID, exp: NOW + LIFETIME }
		]) {
			const signed = resign(encode(payload));
			expect(checkSession(signed, NOW), JSON.stringify(payload)).toEqual({ refusal: 'invalid' });
		}
		expect(checkSession(resign(Buffer.from('not json').toString('base64url')), NOW)).toEqual({
			refusal: 'invalid'
		});
		expect(checkSession(resign(encode(null)), NOW)).toEqual({ refusal: 'invalid' });
	});

	it('are refused when longer than any this demo signs', () => {
		const name = 'A'.repeat(2_000);
		expect(checkSession(signSession({ name, account: 'acme' }, { now: NOW }), NOW)).toEqual({
			refusal: 'invalid'
		});
	});
});

describe('the session lifetime', () => {
	it('is a quarter hour unless DEMO_SESSION_TTL_MS names one of at least 2 s', () => {
		expect(sessionLifetime({})).toBe(DEFAULT_SESSION_LIFETIME);
		expect(DEFAULT_SESSION_LIFETIME).toBe(15 * 60_000);
		expect(sessionLifetime({ DEMO_SESSION_TTL_MS: '60000' })).toBe(60_000);
		for (const invalid of ['', 'soon', '1999', '-5', '1.5e3', '2000.5'])
			expect(sessionLifetime({ DEMO_SESSION_TTL_MS: invalid }), invalid).toBe(
				DEFAULT_SESSION_LIFETIME
			);
	});
});

/** `payload` signed as the server signs, so only what is inside it can be wrong. */
function resign(payload: string): string {
	return `${payload}.${hmac(payload)}`;
}

/** The HMAC the server signs with, here: the test process has no DEMO_SECRET, so the public one. */
function hmac(payload: string): string {
	return createHmac(
		'sha256',
		sessionSecret({}, () => {})
	)
		.update(payload)
		.digest('base64url');
}
