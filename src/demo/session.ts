import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

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

/** A signed-in session: who, which session (`sid`), and until when its token is good (`exp`). */
export interface DemoSession extends DemoUser {
	/** Random, one per sign-in: what sign-out revokes, and the socket route's user id. */
	sid: string;
	/** When this token stops being accepted, in ms since the Unix epoch. */
	exp: number;
}

/**
 * How long a session token is good: a tab's socket refreshes it before then, and a page load or a
 * refresh sets the cookie anew, so a session lasts while it is used and ends this long after its
 * last use. A quarter hour: a stolen cookie is worth little for long, and a team idle for ten
 * minutes is gone anyway (DEFAULT_ACCOUNT_LIMITS).
 */
export const DEFAULT_SESSION_LIFETIME = 15 * 60_000;
/** Shorter than this, a token could expire before its page has loaded and asked for another. */
const MIN_SESSION_LIFETIME = 2_000;

/**
 * The session lifetime in ms from DEMO_SESSION_TTL_MS; missing, invalid or shorter than 2 s keeps
 * `DEFAULT_SESSION_LIFETIME`.
 *
 * @example
 * ```ts
 * sessionLifetime({ DEMO_SESSION_TTL_MS: '60000' }); // 60_000
 * ```
 */
export function sessionLifetime(env: Record<string, string | undefined> = process.env): number {
	const value = Number(env.DEMO_SESSION_TTL_MS);
	return Number.isSafeInteger(value) && value >= MIN_SESSION_LIFETIME
		? value
		: DEFAULT_SESSION_LIFETIME;
}

/** A fresh session id: 128 random bits, base64url. */
export function newSessionId(): string {
	return randomBytes(16).toString('base64url');
}

/**
 * A session token: `payload.signature`, where payload is the base64url JSON of the session and
 * signature the base64url HMAC-SHA256 of the payload's text. `sid` defaults to a new session, `now`
 * and `lifetime` set `exp`.
 */
export function signSession(
	user: DemoUser,
	{
		sid = newSessionId(),
		now = Date.now(),
		lifetime = sessionLifetime()
	}: { sid?: string; now?: number; lifetime?: number } = {}
): string {
	const session: DemoSession = { sid, name: user.name, account: user.account, exp: now + lifetime };
	const payload = Buffer.from(JSON.stringify(session)).toString('base64url');
	return `${payload}.${signature(payload)}`;
}

/** Why a token is not a session (yet to be checked against revocations: `DemoSessions`). */
export type TokenRefusal = 'invalid' | 'expired';

/** A token's session, or why it has none. An expired one still says which session it was. */
export type TokenCheck =
	{ session: DemoSession; refusal?: undefined } | { session?: DemoSession; refusal: TokenRefusal };

/** Far longer than any token this demo signs (names and teams are at most 40 characters). */
const MAX_TOKEN_LENGTH = 1024;
/** Exactly two base64url segments; an HMAC-SHA256 is 32 bytes, 43 characters unpadded. */
const TOKEN_SHAPE = /^([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{43})$/;
const SESSION_ID = /^[A-Za-z0-9_-]{22}$/;

/**
 * Checks a token strictly: exactly `payload.signature` (nothing before, between or after), both
 * canonical base64url (the one spelling that decodes and encodes back to itself: Node's decoder
 * would skip characters and ignore stray bits), a signature this server made, a payload of the
 * right shape, and `exp` after `now`.
 */
export function checkSession(token: string | undefined, now = Date.now()): TokenCheck {
	const session = signedSession(token);
	if (!session) return { refusal: 'invalid' };
	return now < session.exp ? { session } : { session, refusal: 'expired' };
}

/** The session a token was signed for, expired or not; `undefined` when forged or malformed. */
function signedSession(token: string | undefined): DemoSession | undefined {
	if (!token || token.length > MAX_TOKEN_LENGTH) return undefined;
	const [, payload, given] = TOKEN_SHAPE.exec(token) ?? [];
	if (!payload || !given) return undefined;
	const bytes = canonicalBase64url(payload);
	if (!bytes || !canonicalBase64url(given)) return undefined;
	const expected = Buffer.from(signature(payload));
	const actual = Buffer.from(given);
	if (expected.length != actual.length || !timingSafeEqual(expected, actual)) return undefined;
	return sessionOf(bytes);
}

/** The bytes `text` is the canonical base64url of, or `undefined`. */
function canonicalBase64url(text: string): Buffer | undefined {
	const bytes = Buffer.from(text, 'base64url');
	return bytes.toString('base64url') === text ? bytes : undefined;
}

/** A signed payload's session; `undefined` when it is not one (a token of an older format). */
function sessionOf(bytes: Buffer): DemoSession | undefined {
	let value: Partial<Record<keyof DemoSession, unknown>>;
	try {
		value = JSON.parse(bytes.toString()) as typeof value;
	} catch {
		return undefined;
	}
	const { sid, name, account, exp } = value ?? {};
	if (typeof sid != 'string' || !SESSION_ID.test(sid)) return undefined;
	if (typeof name != 'string' || typeof account != 'string') return undefined;
	if (typeof exp != 'number' || !Number.isSafeInteger(exp)) return undefined;
	return { sid, name, account, exp };
}

/** The session of a token that is well-formed, signed here and not expired; else `undefined`. */
export function verifySession(
	token: string | undefined,
	now = Date.now()
): DemoSession | undefined {
	const { session, refusal } = checkSession(token, now);
	return refusal ? undefined : session;
}
