import { isRecord } from './envelope.js';

/** Server → client: `{room, members}`, the whole presence of a room (after a join, or when asked). */
export const PRESENCE_STATE = 'presence.state';
/** Server → client: `{room, set, removed}`, what changed in a room's presence since the last state. */
export const PRESENCE_DIFF = 'presence.diff';
/** Client → server: `{room}`, asks for the room's `presence.state`. */
export const PRESENCE_GET = 'presence.get';

/**
 * One user present in a room: the public data the server chose for them, and how many
 * connections (tabs, devices, processes) they are there with.
 *
 * @example
 * ```ts
 * const entry: PresenceEntry<{ name: string }> = { data: { name: 'Ada' }, connections: 2 };
 * ```
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
 * The entries of a `members` or `set` field, or undefined when it is not a record of entries: a
 * malformed presence message changes nothing.
 *
 * @example
 * ```ts
 * presenceEntries({ u1: { data: null, connections: 1 } }); // [['u1', { data: null, connections: 1 }]]
 * ```
 */
export function presenceEntries(value: unknown): [string, PresenceEntry][] | undefined {
	if (!isRecord(value)) return undefined;
	const entries = Object.entries(value);
	const valid = entries.every(
		([, entry]) => isRecord(entry) && typeof entry.connections == 'number'
	);
	return valid ? (entries as [string, PresenceEntry][]) : undefined;
}
