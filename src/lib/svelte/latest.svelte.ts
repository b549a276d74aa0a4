import { createSubscriber } from 'svelte/reactivity';
import type { MessageDefinition } from '../protocol/message.js';
import type { FeedHost } from './feed.js';

/**
 * Options of `socket.latest`.
 */
export interface LatestOptions {
	/** Only messages published to this room; forgotten when it turns out unrecoverable while read. */
	room?: string;
}

/**
 * The newest message of one kind, from `socket.latest(definition)`. Reading `current` in an effect
 * or a template listens for it (and retains the connection); the value stays between readers.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 * 	const tick = getSocket().latest(Tick);
 * </script>
 *
 * <p>Server clock: {tick.current?.count ?? '—'}</p>
 * ```
 */
export class Latest<T> {
	#current = $state.raw<T | undefined>();
	/** The newest data received, published to `current` at the next flush. */
	#newest: T | undefined;
	#subscribe: () => void;

	constructor(host: FeedHost, definition: MessageDefinition<T>, options: LatestOptions = {}) {
		const publish = () => (this.#current = this.#newest);
		const take = (data: T | undefined) => {
			this.#newest = data;
			host.schedule(publish);
		};
		this.#subscribe = createSubscriber(() => {
			const stopFollowing = host.follow(definition, take, options.room);
			const stopResetting = host.onReset(options.room, () => take(undefined));
			return () => {
				stopFollowing();
				stopResetting();
			};
		});
	}

	/** The newest message's data, `undefined` until one arrives. */
	get current(): T | undefined {
		this.#subscribe();
		return this.#current;
	}
}
