import { isRecord } from './envelope.js';

/** Server → client: `{room, members}`, the whole presence of a room (after a join, or when asked); `members` is a list of `[userId, entry]` pairs. */
export const PRESENCE_STATE = 'presence.state';
/** Server → client: `{room, set, removed}`, what changed in a room's presence since the last state; `set` is a list of `[userId, entry]` pairs. */
export const PRESENCE_DIFF = 'presence.diff';
/** Client → server: `{room}`, asks for the room's `presence.state`. */
export const PRESENCE_GET = 'presence.get';

/**
 * One user present in a room: the public data the server chose for them, and how many
 * connections (tabs, devices, processes) they are there with.
 */
export interface PresenceEntry<Data = unknown> {
	readonly data: Data;
	readonly connections: number;
}

/**
 * Who is in a room, by user id.
 *
 * @example
 * ```ts
 * const names = [...members.values()].map((entry) => entry.data.name);
 * ```
 */
export type PresenceMembers<Data = unknown> = ReadonlyMap<string, PresenceEntry<Data>>;

/**
 * The entries of a `members` or `set` field — `[userId, entry]` pairs, so that no user id is ever a
 * key of a parsed object (a user may be called `__proto__`) — or undefined when it is not a list of
 * such pairs: a malformed presence message changes nothing.
 */
export function presenceEntries(value: unknown): [string, PresenceEntry][] | undefined {
	const valid =
		Array.isArray(value) &&
		value.every(
			(pair) =>
				Array.isArray(pair) &&
				typeof pair[0] == 'string' &&
				isRecord(pair[1]) &&
				typeof pair[1].connections == 'number'
		);
	return valid ? (value as [string, PresenceEntry][]) : undefined;
}
