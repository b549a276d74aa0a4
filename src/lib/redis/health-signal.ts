/**
 * A boolean that tells its listeners when it changes. A throwing listener does not stop the others
 * (its error goes to `onListenerError`).
 */
export class HealthSignal {
	#value = false;
	#listeners = new Set<(healthy: boolean) => void>();
	#onListenerError: (error: unknown) => void;

	constructor(onListenerError: (error: unknown) => void) {
		this.#onListenerError = onListenerError;
	}

	get value(): boolean {
		return this.#value;
	}

	set(value: boolean): void {
		if (value == this.#value) return;
		this.#value = value;
		for (const listener of [...this.#listeners]) {
			try {
				listener(value);
			} catch (error) {
				this.#onListenerError(error);
			}
		}
	}

	listen(listener: (healthy: boolean) => void): () => void {
		const own = (healthy: boolean) => listener(healthy);
		this.#listeners.add(own);
		return () => void this.#listeners.delete(own);
	}
}
