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
