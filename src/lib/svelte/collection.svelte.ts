/* eslint-disable svelte/prefer-svelte-reactivity */
// No SvelteMap: it would update readers on every message. The shadow Map is deliberately not
// reactive, and each Map published through $state.raw is new and never changed after.
import { untrack } from 'svelte';
import { createSubscriber } from 'svelte/reactivity';
import type { MessageDefinition } from '../protocol/message.js';
import type { FeedHost } from './feed.js';
import {
	OptimisticOverlay,
	type OptimisticChange,
	type PendingChange
} from './optimistic-overlay.js';

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
	#pending = $state.raw<ReadonlySet<K>>(new Set());
	/** The server's items: every message handed on lands here; `current` and `values` get copies per flush. */
	#shadow = new Map<K, T>();
	/** The optimistic changes not yet settled, shown on top of the shadow. */
	#overlay = new OptimisticOverlay<K, T>();
	/** The shadow or the overlay has changes the published fields may not show yet. */
	#dirty = false;
	#key: (item: T) => K;
	#host: FeedHost;
	#subscribe: () => void;
	#publishing = () => this.#publish();

	constructor(host: FeedHost, definition: MessageDefinition<T>, setup: CollectionSetup<T, K>) {
		this.#key = setup.key;
		this.#host = host;
		this.#subscribe = createSubscriber(() => {
			const stopUpserts = host.follow(
				definition,
				(item) => {
					const key = this.#key(item);
					this.#shadow.set(key, item);
					this.#overlay.overtake(key);
					this.#changed();
				},
				setup.room
			);
			const stopRemovals = setup.removals?.((key) => {
				const removed = this.#shadow.delete(key);
				// Also for a key only a pending change shows: the server has spoken for it.
				if (this.#overlay.overtake(key) || removed) this.#changed();
			});
			const stopResetting = setup.keepWhenUnrecoverable
				? () => {}
				: host.onReset(setup.room, () => {
						this.#shadow.clear();
						this.#changed();
					});
			return () => {
				stopUpserts();
				stopRemovals?.();
				stopResetting();
			};
		});
		if (setup.initial) this.replace(setup.initial);
	}

	/** The items by key, pending changes applied: a new Map after every flush that changed what it shows. */
	get current(): ReadonlyMap<K, T> {
		this.#subscribe();
		return this.#current;
	}

	/** The items in insertion order (a replaced item keeps its place): a new array with every `current`. */
	get values(): T[] {
		this.#subscribe();
		return this.#values;
	}

	/** The keys with optimistic changes not yet settled: a new Set after every flush that changed them. */
	get pending(): ReadonlySet<K> {
		this.#subscribe();
		return this.#pending;
	}

	/**
	 * Shows `change` to the item of `key` now, marked pending until `action` settles. Resolved, the
	 * change is confirmed: the server's value wins if a message for `key` came since the change
	 * began, else the change's own value becomes the item. Rejected, it is rolled back to the
	 * server's value. Changes of one key stack in order, and a function change is applied again on
	 * top of each new server value. Returns `action`, for the page to show a refusal's reason.
	 *
	 * @example
	 * ```ts
	 * import { getSocket } from 'runesocket/svelte';
	 *
	 * const socket = getSocket();
	 * const incidents = socket.collection(IncidentCreated, { key: (incident) => incident.uuid });
	 * const draft = { uuid: crypto.randomUUID(), title: 'DB down', severity: 'critical' as const, accountId: 'acme' };
	 * incidents
	 * 	.optimistic(draft.uuid, draft, socket.request(CreateIncident, { title: draft.title }))
	 * 	.catch((refused: Error) => alert(refused.message)); // rolled back: the draft is gone
	 * ```
	 */
	optimistic<R>(key: K, change: OptimisticChange<T>, action: Promise<R>): Promise<R> {
		const pending = this.#overlay.add(key, change);
		this.#dirty = true;
		this.#publish();
		// Handles the rejection too: a page that ignores the returned promise leaves none unhandled.
		action.then(
			() => this.#settle(key, pending, 'confirmed'),
			() => this.#settle(key, pending, 'refused')
		);
		return action;
	}

	/**
	 * Replaces every item at once and shows them now, e.g. with what a `load` function fetched again.
	 * Pending changes stay on top of them.
	 */
	replace(items: Iterable<T>): void {
		this.#shadow = new Map();
		for (const item of items) this.#shadow.set(this.#key(item), item);
		this.#dirty = true;
		this.#publish();
	}

	/** Removes every item now (pending changes stay on top). */
	clear(): void {
		this.replace([]);
	}

	/** Takes a settled change off; a confirmed one the server has not overtaken becomes the item. */
	#settle(key: K, change: PendingChange<T>, outcome: 'confirmed' | 'refused'): void {
		this.#overlay.remove(key, change);
		if (outcome == 'confirmed' && !change.overtaken) {
			const item = change.applyTo(this.#shadow.get(key));
			if (item === undefined) this.#shadow.delete(key);
			else this.#shadow.set(key, item);
		}
		this.#changed();
	}

	/** Publishes at the next flush. */
	#changed(): void {
		this.#dirty = true;
		this.#host.schedule(this.#publishing);
	}

	#publish(): void {
		// A replace() may have published already: the flush that was waiting then has nothing new.
		if (!this.#dirty) return;
		this.#dirty = false;
		const shown = this.#overlay.empty ? new Map(this.#shadow) : this.#overlay.view(this.#shadow);
		// Untracked: optimistic() and replace() may be called inside an effect, which must not come
		// to depend on the fields they change.
		const [current, pending] = untrack(() => [this.#current, this.#pending] as const);
		// A change hidden under a pending one, or a confirmation of what is shown, changes nothing.
		if (!sameEntries(shown, current)) {
			this.#current = shown;
			this.#values = [...shown.values()];
		}
		if (!sameKeys(this.#overlay.keys(), pending)) this.#pending = new Set(this.#overlay.keys());
	}
}

/** Whether `a` and `b` hold the same items (the same objects) under the same keys, in the same order. */
function sameEntries<K, T>(a: ReadonlyMap<K, T>, b: ReadonlyMap<K, T>): boolean {
	if (a.size != b.size) return false;
	const others = b.entries();
	for (const [key, item] of a) {
		const [otherKey, other] = others.next().value!;
		if (key !== otherKey || item !== other) return false;
	}
	return true;
}

/** Whether `keys` are exactly the members of `set`. */
function sameKeys<K>(keys: Iterable<K>, set: ReadonlySet<K>): boolean {
	let count = 0;
	for (const key of keys) {
		if (!set.has(key)) return false;
		count++;
	}
	return count == set.size;
}
