import { createSubscriber } from 'svelte/reactivity';
import type { PresenceMembers } from '../protocol/presence.js';
import type { FeedHost } from './feed.js';

const NOBODY: PresenceMembers<never> = new Map();

/**
 * Who is in a room, from `socket.presence(room)`: a `ReadonlyMap` from user id to `{data,
 * connections}`, replaced (never changed in place) at the next flush after the server's state or
 * changes arrive. Reading `current` in an effect or a template joins the room and watches it (and
 * retains the connection); when the last reader goes, the room is released.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 * 	const viewers = getSocket().presence<{ name: string }>('team:acme');
 * </script>
 *
 * {#each viewers.current as [id, viewer] (id)}<span title={viewer.data.name}>{viewer.data.name[0]}</span>{/each}
 * ```
 */
export class Presence<Data = unknown> {
	#current = $state.raw<PresenceMembers<Data>>(NOBODY);
	#newest: PresenceMembers<Data> = NOBODY;
	#subscribe: () => void;

	constructor(host: FeedHost, room: string) {
		const publish = () => (this.#current = this.#newest);
		this.#subscribe = createSubscriber(() =>
			host.watchPresence<Data>(room, (members) => {
				this.#newest = members;
				host.schedule(publish);
			})
		);
	}

	/** The room's members by user id; empty until the server's first state. */
	get current(): PresenceMembers<Data> {
		this.#subscribe();
		return this.#current;
	}
}
