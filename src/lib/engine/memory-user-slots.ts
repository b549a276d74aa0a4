import type { EngineUserSlots } from './engine.js';

/**
 * Per-user connection slots in one process (`MemoryEngine`, and the server's own count when its
 * engine has none): a set of connection ids per key.
 */
export class MemoryUserSlots implements EngineUserSlots {
	readonly #slots = new Map<string, Set<string>>();

	claim(key: string, connectionId: string, max: number): boolean {
		let taken = this.#slots.get(key);
		if (taken?.has(connectionId)) return true;
		if ((taken?.size ?? 0) >= max) return false;
		if (!taken) this.#slots.set(key, (taken = new Set()));
		taken.add(connectionId);
		return true;
	}

	release(key: string, connectionId: string): void {
		const taken = this.#slots.get(key);
		// A key without slots goes, so users who left leave nothing behind.
		if (taken?.delete(connectionId) && !taken.size) this.#slots.delete(key);
	}
}
