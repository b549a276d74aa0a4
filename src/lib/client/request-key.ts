import { MAX_REQUEST_KEY_LENGTH } from '../protocol/envelope.js';

/**
 * A fresh request key: 128 random bits from `crypto.getRandomValues`, in base64url (22 characters).
 * Not `crypto.randomUUID`, which browsers leave out on insecure origins (plain http on a LAN
 * address). Reads `crypto` only when called, so importing it touches no global.
 */
export function requestKey(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	return btoa(String.fromCharCode(...bytes))
		.replace(/\+/g, '-')
		.replace(/\//g, '_')
		.replace(/=+$/, '');
}

/**
 * Whether `key` may be a request key: a string of 1..64 characters (the server refuses others as
 * `malformed`).
 */
export function isRequestKey(key: unknown): key is string {
	return typeof key == 'string' && key.length > 0 && key.length <= MAX_REQUEST_KEY_LENGTH;
}
