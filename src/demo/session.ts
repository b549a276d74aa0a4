import { createHmac, timingSafeEqual } from 'node:crypto';

/** Who is signed in to the demo: a display name and the account (team) they belong to. */
export interface DemoUser {
	name: string;
	account: string;
}

// A demo needs no real secret, but every process serving one dashboard must share it.
const secret = process.env.DEMO_SECRET ?? 'runesocket-demo-secret';

function signature(payload: string): string {
	return createHmac('sha256', secret).update(payload).digest('base64url');
}

/** A URL-safe slug of a free-text name, e.g. "ACME Corp" → "acme-corp". */
export function slug(text: string): string {
	return (
		text
			.toLowerCase()
			.normalize('NFKD')
			.replace(/[^a-z0-9]+/g, '-')
			.replace(/^-|-$/g, '')
			.slice(0, 40) || 'demo'
	);
}

/** The session token of a user: their data and an HMAC, so the server can trust it back. */
export function signSession(user: DemoUser): string {
	const payload = Buffer.from(JSON.stringify(user)).toString('base64url');
	return `${payload}.${signature(payload)}`;
}

/** The user a token was signed for, or `undefined` when it is forged, malformed or missing. */
export function verifySession(token: string | undefined): DemoUser | undefined {
	const [payload, given] = token?.split('.') ?? [];
	if (!payload || !given) return undefined;
	const expected = Buffer.from(signature(payload));
	const actual = Buffer.from(given);
	if (expected.length != actual.length || !timingSafeEqual(expected, actual)) return undefined;
	try {
		const user = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Partial<DemoUser>;
		return typeof user.name == 'string' && typeof user.account == 'string'
			? { name: user.name, account: user.account }
			: undefined;
	} catch {
		return undefined;
	}
}
