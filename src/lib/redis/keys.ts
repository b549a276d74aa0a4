import { createHash } from 'node:crypto';

/** What every key and channel name starts with unless the engine and publisher are given a `prefix`. */
export const DEFAULT_PREFIX = 'runesocket:';
/** How long a room's position lives after its last publish, unless told otherwise: 24 hours. */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * What a room name may not carry into its hash tag as it is: `}` (it would end the tag), `%` (the
 * escape), and a lone UTF-16 surrogate, which goes to Redis as U+FFFD (so two such names would share
 * keys) and which ioredis hashes to another slot than Redis does.
 */
const ESCAPED = /[%}]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const NEEDS_ESCAPE = new RegExp(ESCAPED.source);
/** The tag of the empty room name: a lone `%`, which no other name's tag contains. */
const EMPTY_ROOM_TAG = '%';

function escape(character: string): string {
	if (character == '%') return '%25';
	if (character == '}') return '%7D';
	return `%u${character.charCodeAt(0).toString(16).toUpperCase()}`;
}

/**
 * What goes between the braces of a room's keys: the hash tag that keeps them in one Redis Cluster
 * slot. Redis hashes what lies between a key's first `{` and the next `}`, and the whole key when
 * that is empty, so a name starting with `}` (or empty) would scatter its keys over several slots.
 * A name without `}`, `%` or a lone surrogate is its own tag, as it always was (existing keys stay
 * where they are); any other name has those percent-encoded (`%25`, `%7D`, `%uD800`), and the
 * empty name is `%`. Every tag is non-empty, has no `}`, and belongs to one name only: a tag with a
 * `%` came from a name that had one of those, and each of its `%` starts `25`, `7D` or `u` + four
 * hex digits, except in `%` itself.
 */
export function roomTag(room: string): string {
	if (room === '') return EMPTY_ROOM_TAG;
	return NEEDS_ESCAPE.test(room) ? room.replace(ESCAPED, escape) : room;
}

/**
 * `prefix`, checked: a string without `{` or `}`, which would move the hash tag of every key out of
 * its room (`who` names the option's owner in the TypeError).
 */
export function checkPrefix(prefix: unknown, who: string): string {
	if (typeof prefix != 'string' || /[{}]/.test(prefix)) {
		throw new TypeError(
			`${who} prefix must be a string without "{" or "}" (they would break the rooms' hash tags), not ${JSON.stringify(prefix)}`
		);
	}
	return prefix;
}

/**
 * The Redis names of one room. They share the hash tag of the room (see `roomTag`), so a Redis
 * Cluster keeps them in one slot (the publish script touches them together).
 */
export interface RoomKeys {
	/**
	 * A hash: `offset` (the last offset handed out), `epoch`, and `born` (when its first publish made
	 * the epoch, Redis ms). Made by the first publish: reading a room writes nothing.
	 */
	readonly position: string;
	/** A stream of the kept messages: fields `offset` and `message` (its JSON). */
	readonly history: string;
	/** The pub/sub channel that carries the room's messages to the processes subscribed. */
	readonly channel: string;
}

/** The keys and channel of `room` under `prefix`. */
export function roomKeys(prefix: string, room: string): RoomKeys {
	const base = `${prefix}{${roomTag(room)}}`;
	return {
		position: `${base}:position`,
		history: `${base}:history`,
		channel: `${base}:messages`
	};
}

/**
 * The Redis names of one room's presence, under the room's hash tag (so in the slot of its channel,
 * which carries the changes): see `presence-scripts.ts` for what each keeps.
 */
export interface PresenceKeys {
	/** A hash: `<process>/<connection id>` → user id. */
	readonly connections: string;
	/** A hash: user id → `<connections>:<data JSON>`. */
	readonly users: string;
	/** A hash: process id → the Redis time (ms) its entries expire at unless renewed. */
	readonly processes: string;
}

/** The presence keys of `room` under `prefix`. */
export function presenceKeys(prefix: string, room: string): PresenceKeys {
	const base = `${prefix}{${roomTag(room)}}:presence`;
	return {
		connections: `${base}-connections`,
		users: `${base}-users`,
		processes: `${base}-processes`
	};
}

/** Redis Cluster's CRC16 (XMODEM: polynomial 0x1021, no reflection, start 0), one table entry per byte. */
const CRC16_TABLE = Array.from({ length: 256 }, (_, byte) => {
	let crc = byte << 8;
	for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : crc << 1;
	return crc & 0xffff;
});

/**
 * The Redis Cluster slot of `key` (0–16383): the CRC16 of its hash tag — what lies between its
 * first `{` and the next `}`, when not empty — or of the whole key. The publish queue groups a
 * turn's commands by the node that serves their slot: a cluster pipeline goes to one node.
 */
export function keySlot(key: string): number {
	let bytes = Buffer.from(key);
	const open = bytes.indexOf(0x7b);
	if (open >= 0) {
		const close = bytes.indexOf(0x7d, open + 1);
		if (close > open + 1) bytes = bytes.subarray(open + 1, close);
	}
	let crc = 0;
	for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[(crc >> 8) ^ byte];
	return crc % 16_384;
}

/**
 * The channel every process of an engine listens to for commands (`engine.command`). Its hash tag
 * `{control}` puts it in one Redis Cluster slot (SPUBLISH and SSUBSCRIBE reach its node), and its
 * `:commands` suffix is no room's (their channels end with `:messages`).
 */
export function controlChannel(prefix: string): string {
	return `${prefix}{control}:commands`;
}

/**
 * The sorted set of one key's per-user connection slots (see `user-slots.ts`): under the key's own
 * hash tag, escaped as a room name's is, with a suffix no room key has.
 */
export function userSlotsKey(prefix: string, key: string): string {
	return `${prefix}{${roomTag(key)}}:user-slots`;
}

/**
 * The Redis names of one scope's request keys (see `request-keys.ts` for what each keeps). They
 * share one hash tag, so a Redis Cluster keeps them in one slot (a script touches them together).
 * The scope is the app's (a route path and a user id), so it goes in hashed: the SHA-256 of its
 * UTF-16 code units, base64url. No scope can end the tag early or empty it, the keys stay short
 * however long the scope, and no two scopes share keys (UTF-8 would send every lone surrogate as
 * U+FFFD, so `"\uD800"` and `"\uD801"` would). The suffixes are no room's, presence's or user
 * slots', so a room whose name is the same hash shares the slot but no key.
 */
export interface RequestKeyNames {
	/** A sorted set: request key → when its claim's lease ends (Redis µs). */
	readonly claims: string;
	/** A hash: request key → its answer (the JSON text `[name, data]`). */
	readonly answers: string;
	/** A sorted set: request key → when it was answered (Redis µs), the oldest evicted first. */
	readonly answered: string;
	/** A string: the bytes of every answer in `answers`. */
	readonly bytes: string;
}

/**
 * The names of the request keys of `scope` under `prefix`.
 */
export function requestKeyNames(prefix: string, scope: string): RequestKeyNames {
	const tag = createHash('sha256').update(scope, 'utf16le').digest('base64url');
	const base = `${prefix}{${tag}}:request-`;
	return {
		claims: `${base}claims`,
		answers: `${base}answers`,
		answered: `${base}answered`,
		bytes: `${base}bytes`
	};
}
