/** One notice: what happened and how loud it is. */
export interface Toast {
	id: number;
	text: string;
	tone: 'critical' | 'down';
}

/** How long a toast stays unless dismissed, and how many show at once. */
const SHOWN_FOR = 8_000;
const MOST_SHOWN = 4;

/**
 * Notices that come and go: the newest few, each gone after a while or when dismissed. The page's
 * `aria-live` feed is what screen readers hear; toasts are for eyes, so they announce nothing.
 */
export class Toasts {
	#items = $state.raw<Toast[]>([]);
	/** Not state: nothing shows the timers. */
	// eslint-disable-next-line svelte/prefer-svelte-reactivity
	#timers = new Map<number, ReturnType<typeof setTimeout>>();
	#nextId = 1;

	get items(): Toast[] {
		return this.#items;
	}

	push(text: string, tone: Toast['tone']): void {
		const toast = { id: this.#nextId++, text, tone };
		const shown = [...this.#items, toast];
		for (const old of shown.slice(0, -MOST_SHOWN)) this.#forget(old.id);
		this.#items = shown.slice(-MOST_SHOWN);
		this.#timers.set(
			toast.id,
			setTimeout(() => this.dismiss(toast.id), SHOWN_FOR)
		);
	}

	dismiss(id: number): void {
		this.#forget(id);
		this.#items = this.#items.filter((toast) => toast.id != id);
	}

	/** Cancels every timer, for a page that goes away. */
	dispose(): void {
		for (const id of [...this.#timers.keys()]) this.#forget(id);
	}

	#forget(id: number): void {
		clearTimeout(this.#timers.get(id));
		this.#timers.delete(id);
	}
}
