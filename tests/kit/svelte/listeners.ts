import { vi } from 'vitest';

/**
 * Counts the listeners added to `targets` and not removed since the call. Spies on their
 * `addEventListener` / `removeEventListener`: `vi.restoreAllMocks()` ends the count.
 *
 * @example
 * ```ts
 * const listening = countListeners(window, document);
 * client.connect();
 * client.dispose();
 * expect(listening()).toBe(0);
 * ```
 */
export function countListeners(...targets: EventTarget[]): () => number {
	const live = new Map<EventTarget, Set<string>>();
	const ids = new WeakMap<object, number>();
	let nextId = 0;
	const key = (type: string, listener: EventListenerOrEventListenerObject | null) => {
		if (!listener) return `${type} null`;
		if (!ids.has(listener)) ids.set(listener, nextId++);
		return `${type} ${ids.get(listener)}`;
	};
	for (const target of targets) {
		const added = new Set<string>();
		live.set(target, added);
		const add = target.addEventListener.bind(target);
		const remove = target.removeEventListener.bind(target);
		vi.spyOn(target, 'addEventListener').mockImplementation((type, listener, options) => {
			added.add(key(type, listener));
			add(type, listener, options);
		});
		vi.spyOn(target, 'removeEventListener').mockImplementation((type, listener, options) => {
			added.delete(key(type, listener));
			remove(type, listener, options);
		});
	}
	return () => [...live.values()].reduce((sum, added) => sum + added.size, 0);
}
