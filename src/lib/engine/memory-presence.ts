import type { EnginePresence, PresenceChange, PresenceMember } from './engine.js';
import type { PresenceEntry } from '../protocol/presence.js';

/** One user in a room: the data of their latest connection, and their connections there. */
interface PresentUser {
	data: unknown;
	readonly connections: Set<string>;
}

/** A room's presence: each connection's user, and each user's connections. */
interface RoomPresence {
	readonly userOf: Map<string, string>;
	readonly users: Map<string, PresentUser>;
}

/**
 * Presence kept in this process's memory, for `MemoryEngine`: connections by room, merged by user.
 * A connection that leaves (or closes) is gone at once: there is no other process to outlive.
 * `changed` hears every change, as the entry to put or the user id to drop. A room here is any name:
 * the server gives each room's presence on each route its own (`presenceRoomOf`), so two routes'
 * rooms of one name are two presences. User ids are keys of Maps and of records without prototype.
 */
export class MemoryPresence implements EnginePresence {
	#rooms = new Map<string, RoomPresence>();
	#changed: (room: string, change: PresenceChange) => void;

	constructor(changed: (room: string, change: PresenceChange) => void) {
		this.#changed = changed;
	}

	track(room: string, connectionId: string, member: PresenceMember): void {
		let presence = this.#rooms.get(room);
		if (!presence) this.#rooms.set(room, (presence = { userOf: new Map(), users: new Map() }));
		const previous = presence.userOf.get(connectionId);
		if (previous !== undefined && previous != member.id) this.untrack(room, connectionId);
		presence.userOf.set(connectionId, member.id);
		let user = presence.users.get(member.id);
		if (!user) presence.users.set(member.id, (user = { data: null, connections: new Set() }));
		user.data = member.data ?? null;
		user.connections.add(connectionId);
		this.#changed(room, { set: recordOf(member.id, user), removed: [] });
	}

	untrack(room: string, connectionId: string): void {
		const presence = this.#rooms.get(room);
		const id = presence?.userOf.get(connectionId);
		if (!presence || id === undefined) return;
		presence.userOf.delete(connectionId);
		const user = presence.users.get(id)!;
		user.connections.delete(connectionId);
		if (user.connections.size) {
			return this.#changed(room, { set: recordOf(id, user), removed: [] });
		}
		presence.users.delete(id);
		if (!presence.users.size) this.#rooms.delete(room);
		this.#changed(room, {
			set: Object.create(null) as Record<string, PresenceEntry>,
			removed: [id]
		});
	}

	members(room: string): Record<string, PresenceEntry> {
		// User ids are anyone's to choose: a plain object would take `__proto__` for its prototype.
		const members = Object.create(null) as Record<string, PresenceEntry>;
		for (const [id, user] of this.#rooms.get(room)?.users ?? []) members[id] = entryOf(user);
		return members;
	}
}

/** `{[id]: entry}` without a prototype, so that any user id is an ordinary key. */
function recordOf(id: string, user: PresentUser): Record<string, PresenceEntry> {
	const record = Object.create(null) as Record<string, PresenceEntry>;
	record[id] = entryOf(user);
	return record;
}

function entryOf(user: PresentUser): { data: unknown; connections: number } {
	return { data: user.data, connections: user.connections.size };
}
