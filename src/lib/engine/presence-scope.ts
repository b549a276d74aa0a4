/**
 * A room's presence on one route, as the server names it to its engine. Presence belongs to the
 * route: two routes may share room names (and so their published messages) while showing different
 * people, or different data about them (one route's member data may be private to it).
 */
export interface PresenceScope {
	/** The route's `path`, as its options give it. */
	readonly path: string;
	/** The room's name. */
	readonly room: string;
}

/**
 * The name of `room`'s presence on the route of `path`, for `engine.presence`: the JSON of
 * `[path, room]`, so no two pairs share a name whatever characters they contain. Engines may treat it
 * as an opaque room name (MemoryEngine does); one that needs the room itself (RedisEngine, for its
 * channel) reads it back with `presenceScopeOf`.
 *
 * @example
 * ```ts
 * presenceRoomOf('/ws', 'team:acme'); // '["/ws","team:acme"]'
 * ```
 */
export function presenceRoomOf(path: string, room: string): string {
	return JSON.stringify([path, room]);
}

/**
 * The route and room of a presence name from `presenceRoomOf`, or undefined when it is not one (a
 * room name given to `engine.presence` directly, unscoped).
 */
export function presenceScopeOf(presenceRoom: string): PresenceScope | undefined {
	if (!presenceRoom.startsWith('["')) return undefined;
	let pair: unknown;
	try {
		pair = JSON.parse(presenceRoom);
	} catch {
		return undefined;
	}
	if (!Array.isArray(pair) || pair.length != 2) return undefined;
	const [path, room] = pair as unknown[];
	if (typeof path != 'string' || typeof room != 'string') return undefined;
	// Only the exact text `presenceRoomOf` writes: another spelling of the pair is another name.
	return presenceRoomOf(path, room) == presenceRoom ? { path, room } : undefined;
}
