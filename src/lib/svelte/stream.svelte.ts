import { createSubscriber } from 'svelte/reactivity';
import type { MessageDefinition } from '../protocol/message.js';
import type { FeedHost } from './feed.js';

/**
 * Options of `socket.stream`.
 */
export interface StreamOptions {
	/** Most items kept; older ones are dropped as new ones arrive. Default 50. */
	limit?: number;
	/** Only messages published to this room; emptied when it turns out unrecoverable while read. */
	room?: string;
	/**
	 * Keep the items when a room turns out unrecoverable, instead of emptying the stream: for a
	 * page that reloads what it shows itself on `Unrecoverable`. Default false.
	 */
	keepWhenUnrecoverable?: boolean;
}

const DEFAULT_LIMIT = 50;

/**
 * The newest messages of one kind, newest first, from `socket.stream(definition)`. Reading
 * `current` in an effect or a template listens for them (and retains the connection); the items
 * stay between readers.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 * 	const events = getSocket().stream(AuditEvent, { limit: 20 });
 * </script>
 *
 * {#each events.current as event (event.id)}<li>{event.text}</li>{/each}
 * ```
 */
export class Stream<T> {
	#current = $state.raw<readonly T[]>([]);
	/**
	 * Every message handed on lands here, trimmed to the limit, so memory stays bounded even when
	 * no flush comes (a background tab gets no animation frames, and the LiveSocket hands messages
	 * on without one past `MAX_WAITING`). `current` gets a copy per flush.
	 */
	#shadow: T[] = [];
	#subscribe: () => void;

	constructor(host: FeedHost, definition: MessageDefinition<T>, options: StreamOptions = {}) {
		const limit = options.limit ?? DEFAULT_LIMIT;
		if (!Number.isInteger(limit) || limit < 1) {
			throw new TypeError(`limit must be a whole number >= 1, got ${String(limit)}`);
		}
		const publish = () => (this.#current = this.#shadow.slice());
		this.#subscribe = createSubscriber(() => {
			const stopFollowing = host.follow(
				definition,
				(data) => {
					this.#shadow.unshift(data);
					if (this.#shadow.length > limit) this.#shadow.length = limit;
					host.schedule(publish);
				},
				options.room
			);
			const stopResetting = options.keepWhenUnrecoverable
				? () => {}
				: host.onReset(options.room, () => {
						this.#shadow = [];
						host.schedule(publish);
					});
			return () => {
				stopFollowing();
				stopResetting();
			};
		});
	}

	/** The items, newest first: a new array after every flush that brought any. */
	get current(): readonly T[] {
		this.#subscribe();
		return this.#current;
	}
}
