import {
	PRESENCE_DIFF,
	PRESENCE_GET,
	PRESENCE_STATE,
	presenceEntries,
	type PresenceMembers
} from '../protocol/presence.js';
import { isRecord } from '../protocol/envelope.js';
import { ClientMessage } from '../protocol/message.js';
import { Disconnected } from './events.js';
import type { SocketClient } from './socket-client.js';

const PresenceState = ClientMessage.define<unknown>(PRESENCE_STATE);
const PresenceDiff = ClientMessage.define<unknown>(PRESENCE_DIFF);

/**
 * A room's presence as one client sees it, from `watchPresence`.
 */
export interface PresenceWatch<Data = unknown> {
	/** Who is in the room now (empty until the server's first `presence.state`). */
	readonly members: PresenceMembers<Data>;
	/** Asks the server for the whole set again. */
	refresh(): void;
	/** Stops watching and releases the room (it is left when no other join retains it). */
	stop(): void;
}

/**
 * Watches who is in `room`: joins it (reference-counted, like `client.joinRoom`), takes the whole set
 * the server sends after every join, applies its changes as they come, and calls `onChange` with a
 * new `ReadonlyMap` each time. Changes that arrive while the set is unknown (before the first state,
 * or between a disconnect and the rejoin's state) are ignored: the next state replaces everything,
 * so a client that reconnects gets the current set, not a replay of changes. A separate function,
 * not a method, so that a bundle without presence does not carry it.
 *
 * @example
 * ```ts
 * const presence = watchPresence<{ name: string }>(client, 'team:acme', (members) => {
 * 	avatars = [...members.values()].map((entry) => entry.data.name);
 * });
 * ```
 */
export function watchPresence<Data = unknown>(
	client: SocketClient,
	room: string,
	onChange: (members: PresenceMembers<Data>) => void
): PresenceWatch<Data> {
	let members: PresenceMembers<Data> = new Map();
	let known = false;
	const replace = (next: Map<string, unknown>) => {
		members = next as PresenceMembers<Data>;
		onChange(members);
	};
	const forRoom = (data: unknown) => (isRecord(data) && data.room === room ? data : undefined);
	const stops = [
		client.on(PresenceState, (data) => {
			const entries = presenceEntries(forRoom(data)?.members);
			if (!entries) return;
			known = true;
			replace(new Map(entries));
		}),
		client.on(PresenceDiff, (data) => {
			const diff = forRoom(data);
			if (!diff || !known) return;
			const set = presenceEntries(diff.set ?? []);
			const removed = diff.removed ?? [];
			if (!set || !Array.isArray(removed)) return;
			const next = new Map<string, unknown>(members);
			for (const id of removed) next.delete(String(id));
			for (const [id, entry] of set) next.set(id, entry);
			replace(next);
		}),
		client.on(Disconnected, () => (known = false)),
		client.joinRoom(room)
	];
	return {
		get members() {
			return members;
		},
		refresh: () => client.send(PRESENCE_GET, { room }),
		stop: () => {
			for (const stop of stops.splice(0)) stop();
		}
	};
}
