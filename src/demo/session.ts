import { createHmac, timingSafeEqual } from 'node:crypto';

/** Who is signed in to the demo: a display name and the account (team) they belong to. */
export interface DemoUser {
	name: string;
	account: string;
}

/** Anyone can read this one here, so anyone could sign a session with it: fine on a laptop only. */
const PUBLIC_SECRET = 'runesocket-demo-secret';
/** Long enough that a random one cannot be guessed. */
const MIN_PRODUCTION_SECRET_LENGTH = 32;

/**
 * What a server signing with the public secret prints when it starts: a demo deployed without
 * NODE_ENV=production would otherwise accept sessions anyone can forge, without a word.
 */
export const PUBLIC_SECRET_WARNING = [
	'',
	'#'.repeat(78),
	'# runesocket demo: WARNING: sessions are signed with the PUBLIC secret in src/demo/session.ts.',
	'# Anyone can forge a session for any name on any team. Fine on your own machine only.',
	'# Anywhere else: set DEMO_SECRET to a random string of at least 32 characters',
	'# (e.g. `openssl rand -base64 32`) and NODE_ENV=production.',
	'#'.repeat(78),
	''
].join('\n');

let warnedOfPublicSecret = false;

/** Warns on stderr, once per process however often the secret is asked for. */
function warnOnce(message: string): void {
	if (warnedOfPublicSecret) return;
	warnedOfPublicSecret = true;
	console.warn(message);
}

/**
 * The secret that signs sessions: DEMO_SECRET, the same in every process serving one dashboard.
 * Outside production it falls back to a public one, and `warn`s (`PUBLIC_SECRET_WARNING`, by
 * default once per process on stderr); with NODE_ENV=production it throws instead, saying what to
 * set, unless DEMO_SECRET is a long secret of its own.
 *
 * @example
 * ```ts
 * sessionSecret({ NODE_ENV: 'development' }); // the public fallback, and a warning
 * sessionSecret({ NODE_ENV: 'production' }); // throws: set DEMO_SECRET
 * ```
 */
export function sessionSecret(
	env: Record<string, string | undefined> = process.env,
	warn: (message: string) => void = warnOnce
): string {
	const configured = env.DEMO_SECRET || undefined;
	if (env.NODE_ENV != 'production') {
		const secret = configured ?? PUBLIC_SECRET;
		if (secret == PUBLIC_SECRET) warn(PUBLIC_SECRET_WARNING);
		return secret;
	}
	const problem = weakness(configured);
	if (!problem) return configured!;
	throw new Error(
		`runesocket demo: refusing to start with NODE_ENV=production: ${problem}, so anyone could ` +
			`forge a session. Set DEMO_SECRET to a random string of at least ` +
			`${MIN_PRODUCTION_SECRET_LENGTH} characters (e.g. the output of \`openssl rand -base64 32\`), ` +
			'the same for every process that serves one dashboard.'
	);
}

/** What makes a secret unfit for production, if anything. */
function weakness(secret: string | undefined): string | undefined {
	if (!secret) return 'DEMO_SECRET is not set';
	if (secret == PUBLIC_SECRET) return 'DEMO_SECRET is the public default';
	if (secret.length < MIN_PRODUCTION_SECRET_LENGTH)
		return `DEMO_SECRET is shorter than ${MIN_PRODUCTION_SECRET_LENGTH} characters`;
	return undefined;
}

/** Read on first use, so a build that only loads this module needs no secret. */
let secret: string | undefined;

function signature(payload: string): string {
	secret ??= sessionSecret();
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
