import { describe, expect, it } from 'vitest';
import {
	PUBLIC_SECRET_WARNING,
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

describe('sessions', () => {
	it('verify what was signed, and nothing altered', () => {
		const token = signSession({ name: 'Ada', account: 'acme' });
		expect(verifySession(token)).toEqual({ name: 'Ada', account: 'acme' });
		const [payload, signature] = token.split('.');
		const forged = Buffer.from(JSON.stringify({ name: 'Ada', account: 'other' })).toString(
			'base64url'
		);
		expect(verifySession(`${forged}.${signature}`)).toBeUndefined();
		expect(verifySession(`${payload}.${signature.slice(1)}`)).toBeUndefined();
		expect(verifySession(undefined)).toBeUndefined();
	});
});
