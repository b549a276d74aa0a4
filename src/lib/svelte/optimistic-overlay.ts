/**
 * An optimistic change to one item of a `Collection`: the new item, `null` to remove it, or a
 * function of the item shown before it (`undefined` when there is none) that returns the new item,
 * or `null` (or `undefined`) for none. A function is called again on each new server value of its
 * key, so it should be pure; an item type that is itself a function cannot be given as an item.
 */
export type OptimisticChange<T> = T | null | ((current: T | undefined) => T | null | undefined);

/**
 * Whether something of the server's (a message adding, replacing or removing the item) came for
 * the change's key since the change began: once it has (`overtaken`), the server's value wins when
 * the change is confirmed; until then (`unanswered`) the change's own value becomes the item.
 */
type Standing = 'unanswered' | 'overtaken';

/** One change not yet settled. `undefined` stands for "no item" on both sides of `applyTo`. */
export class PendingChange<T> {
	readonly #change: OptimisticChange<T>;
	#standing: Standing = 'unanswered';
	/** The last value a function change was applied to, and what it gave: applied again only on a new one. */
	#last: { input: T | undefined; output: T | undefined } | undefined;

	constructor(change: OptimisticChange<T>) {
		this.#change = change;
	}

	/** Whether the server has spoken for the key since this change began. */
	get overtaken(): boolean {
		return this.#standing == 'overtaken';
	}

	/** Something of the server's came for the key: a confirmation will keep that, not this change. */
	overtake(): void {
		this.#standing = 'overtaken';
	}

	/** The item this change makes of `current`: the same object again for the same `current`. */
	applyTo(current: T | undefined): T | undefined {
		const change = this.#change;
		if (typeof change != 'function') return change ?? undefined;
		const last = this.#last;
		if (last && last.input === current) return last.output;
		// A function change is a function of an item, never an item that is itself a function.
		const output =
			(change as (current: T | undefined) => T | null | undefined)(current) ?? undefined;
		this.#last = { input: current, output };
		return output;
	}
}

/**
 * The changes not yet settled, by key and in the order they were made, and what a map of items
 * looks like with them on top.
 */
export class OptimisticOverlay<K, T> {
	#changes = new Map<K, PendingChange<T>[]>();

	/** Whether no change is pending. */
	get empty(): boolean {
		return this.#changes.size == 0;
	}

	/** The keys with changes pending, in the order their first pending change was made. */
	keys(): IterableIterator<K> {
		return this.#changes.keys();
	}

	/** Whether `key` has changes pending. */
	has(key: K): boolean {
		return this.#changes.has(key);
	}

	/** Puts `change` on top of the changes of `key`. */
	add(key: K, change: OptimisticChange<T>): PendingChange<T> {
		const pending = new PendingChange(change);
		const stack = this.#changes.get(key);
		if (stack) stack.push(pending);
		else this.#changes.set(key, [pending]);
		return pending;
	}

	/** Takes `change` off the changes of `key` (it settled). */
	remove(key: K, change: PendingChange<T>): void {
		const stack = this.#changes.get(key);
		const at = stack?.indexOf(change) ?? -1;
		if (at < 0) return;
		stack!.splice(at, 1);
		if (stack!.length == 0) this.#changes.delete(key);
	}

	/** The server spoke for `key`: its pending changes are overtaken. Whether it had any. */
	overtake(key: K): boolean {
		const stack = this.#changes.get(key);
		for (const change of stack ?? []) change.overtake();
		return stack !== undefined;
	}

	/**
	 * `base` with every pending change applied on top, in order: items keep their place, a change
	 * that creates one puts it after them, one that removes it takes it out.
	 */
	view(base: ReadonlyMap<K, T>): Map<K, T> {
		const shown = new Map<K, T>();
		for (const [key, item] of base) this.#show(shown, key, item);
		for (const key of this.#changes.keys()) if (!base.has(key)) this.#show(shown, key, undefined);
		return shown;
	}

	#show(shown: Map<K, T>, key: K, item: T | undefined): void {
		let value = item;
		for (const change of this.#changes.get(key) ?? []) value = change.applyTo(value);
		if (value !== undefined) shown.set(key, value);
	}
}
