/** What every key and channel name starts with unless the engine and publisher are given a `prefix`. */
export const DEFAULT_PREFIX = 'runesocket:';
/** How long a room's position lives after its last publish, unless told otherwise: 24 hours. */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * The Redis names of one room. They share the hash tag `{room}`, so a Redis Cluster keeps them in
 * one slot (the publish script touches them together).
 *
 * @example
 * ```ts
 * const { position, history, channel }: RoomKeys = roomKeys('runesocket:', 'lobby');
 * ```
 */
export interface RoomKeys {
	/** A hash: `offset` (the last offset handed out) and `epoch`. */
	readonly position: string;
	/** A stream of the kept messages: fields `offset` and `message` (its JSON). */
	readonly history: string;
	/** The pub/sub channel that carries the room's messages to the processes subscribed. */
	readonly channel: string;
}

/**
 * The keys and channel of `room` under `prefix`.
 *
 * @example
 * ```ts
 * roomKeys('runesocket:', 'lobby');
 * // { position: 'runesocket:{lobby}:position', history: 'runesocket:{lobby}:history', channel: 'runesocket:{lobby}:messages' }
 * ```
 */
export function roomKeys(prefix: string, room: string): RoomKeys {
	const base = `${prefix}{${room}}`;
	return {
		position: `${base}:position`,
		history: `${base}:history`,
		channel: `${base}:messages`
	};
}

/**
 * The Redis names of one room's presence, under the room's hash tag (so in the slot of its channel,
 * which carries the changes): see `presence-scripts.ts` for what each holds.
 *
 * @example
 * ```ts
 * presenceKeys('runesocket:', 'team:acme').users; // 'runesocket:{team:acme}:presence-users'
 * ```
 */
export interface PresenceKeys {
	/** A hash: `<process>/<connection id>` → user id. */
	readonly connections: string;
	/** A hash: user id → `<connections>:<data JSON>`. */
	readonly users: string;
	/** A hash: process id → the Redis time (ms) its entries expire at unless renewed. */
	readonly processes: string;
}

/**
 * The presence keys of `room` under `prefix`.
 *
 * @example
 * ```ts
 * const { connections, users, processes } = presenceKeys('runesocket:', 'lobby');
 * ```
 */
export function presenceKeys(prefix: string, room: string): PresenceKeys {
	const base = `${prefix}{${room}}:presence`;
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
 *
 * @example
 * ```ts
 * keySlot('runesocket:{lobby}:position') == keySlot('runesocket:{lobby}:messages'); // true
 * keySlot('123456789'); // 12739
 * ```
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
