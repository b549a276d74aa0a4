/* eslint-disable svelte/prefer-svelte-reactivity */
// No SvelteMap: it would update readers on every message. The shadow Map is deliberately not
// reactive, and each Map published through $state.raw is new and never changed after.
import { createSubscriber } from 'svelte/reactivity';
import type { MessageDefinition } from '../protocol/message.js';
import type { FeedHost } from './feed.js';

/**
 * Options of `socket.collection`. Without `removeKey`, `key` is applied to the `remove` message's
 * data, which must then share fields with an item (e.g. both carry `uuid`).
 */
export type CollectionOptions<T, K, R = T> = {
	/** The identity of an item: a message whose key is already there replaces that item. */
	key: (item: T) => K;
	/** The message that removes an item. */
	remove?: MessageDefinition<R>;
	/** The items to start with, e.g. from a `load` function. */
	initial?: Iterable<T>;
	/**
	 * Only messages published to this room; emptied when the room turns out unrecoverable while the
	 * collection is read.
	 */
	room?: string;
	/**
	 * Keep the items when a room turns out unrecoverable, instead of emptying the collection: for a
	 * page that fetches the truth itself on `Unrecoverable` and calls `replace`, so it never shows an
	 * empty list in between. Default false.
	 */
	keepWhenUnrecoverable?: boolean;
} & ([R] extends [Partial<T>]
	? {
			/** The key a `remove` message names. Default: `key` applied to its data. */
			removeKey?: (data: R) => K;
		}
	: {
			/** The key a `remove` message names: needed when its data has no field of an item. */
			removeKey: (data: R) => K;
		});

/**
 * How a `Collection` is built, with the type of the removal messages hidden inside `removals`.
 */
export interface CollectionSetup<T, K> {
	key: (item: T) => K;
	initial?: Iterable<T>;
	room?: string;
	keepWhenUnrecoverable?: boolean;
	/** Follows the messages that remove items, calling `drop` with each one's key, until stopped. */
	removals?: (drop: (key: K) => void) => () => void;
}

/**
 * Items kept by key, from `socket.collection(definition, options)`: each message adds its item or
 * replaces the one with the same key, and `remove` messages delete. Reading `current` or `values`
 * in an effect or a template listens for both (and retains the connection); the items stay between
 * readers.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 * 	let { data } = $props();
 * 	const incidents = getSocket().collection(IncidentCreated, {
 * 		key: (incident) => incident.uuid,
 * 		remove: IncidentDeleted,
 * 		removeKey: ({ uuid }) => uuid,
 * 		initial: data.incidents
 * 	});
 * </script>
 *
 * {#each incidents.values as incident (incident.uuid)}<li>{incident.title}</li>{/each}
 * ```
 */
export class Collection<T, K> {
	#current = $state.raw<ReadonlyMap<K, T>>(new Map());
	#values = $state.raw<T[]>([]);
	/** Every change lands here at once; `current` and `values` get copies per flush. */
	#shadow = new Map<K, T>();
	/** The shadow has changes `current` does not show yet. */
	#dirty = false;
	#key: (item: T) => K;
	#subscribe: () => void;

	constructor(host: FeedHost, definition: MessageDefinition<T>, setup: CollectionSetup<T, K>) {
		this.#key = setup.key;
		const publish = () => this.#publish();
		const changed = () => {
			this.#dirty = true;
			host.schedule(publish);
		};
		this.#subscribe = createSubscriber(() => {
			const stopUpserts = host.follow(
				definition,
				(item) => {
					this.#shadow.set(this.#key(item), item);
					changed();
				},
				setup.room
			);
			const stopRemovals = setup.removals?.((key) => {
				if (this.#shadow.delete(key)) changed();
			});
			const stopResetting = setup.keepWhenUnrecoverable
				? () => {}
				: host.onReset(setup.room, () => {
						this.#shadow.clear();
						changed();
					});
			return () => {
				stopUpserts();
				stopRemovals?.();
				stopResetting();
			};
		});
		if (setup.initial) this.replace(setup.initial);
	}

	/** The items by key: a new Map after every flush that changed any. */
	get current(): ReadonlyMap<K, T> {
		this.#subscribe();
		return this.#current;
	}

	/** The items in insertion order (a replaced item keeps its place): a new array with every `current`. */
	get values(): T[] {
		this.#subscribe();
		return this.#values;
	}

	/** Replaces every item at once and shows them now, e.g. with what a `load` function fetched again. */
	replace(items: Iterable<T>): void {
		this.#shadow = new Map();
		for (const item of items) this.#shadow.set(this.#key(item), item);
		this.#dirty = true;
		this.#publish();
	}

	/** Removes every item now. */
	clear(): void {
		this.replace([]);
	}

	#publish(): void {
		// A replace() may have published already: the flush that was waiting then has nothing new.
		if (!this.#dirty) return;
		this.#dirty = false;
		this.#current = new Map(this.#shadow);
		this.#values = [...this.#shadow.values()];
	}
}
