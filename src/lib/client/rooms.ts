/**
 * Reference-counted room memberships: two parts of an app that join one room make one join, and
 * the room is left when the last of them leaves. The registry only counts; the client sends.
 *
 * @example
 * ```ts
 * const rooms = new RoomRegistry();
 * rooms.add('project:1'); // true: first holder, send a join
 * rooms.add('project:1'); // false
 * rooms.remove('project:1'); // false
 * rooms.remove('project:1'); // true: last holder, send a leave
 * ```
 */
export class RoomRegistry {
	#holders = new Map<string, number>();

	/** Counts one more holder of `room`; true when it is the first. */
	add(room: string): boolean {
		const holders = this.#holders.get(room) ?? 0;
		this.#holders.set(room, holders + 1);
		return holders == 0;
	}

	/** Counts one holder less; true when that was the last one. */
	remove(room: string): boolean {
		const holders = this.#holders.get(room);
		if (!holders) return false;
		if (holders > 1) {
			this.#holders.set(room, holders - 1);
			return false;
		}
		this.#holders.delete(room);
		return true;
	}

	/** Forgets every membership. */
	clear(): void {
		this.#holders.clear();
	}

	/** The rooms with at least one holder. */
	get rooms(): ReadonlySet<string> {
		return new Set(this.#holders.keys());
	}
}
