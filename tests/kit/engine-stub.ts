import { MemoryEngine } from '../../src/lib/engine/memory-engine.js';
import type { Engine } from '../../src/lib/server/index.js';
import type { EngineHandlers, HistoryResult, PublishOptions } from '../../src/lib/engine/engine.js';
import type { StreamPosition } from '../../src/lib/index.js';

/**
 * An app's own engine, as the Engine contract lets an app write one: a MemoryEngine underneath,
 * without presence, that reports every subscribe, unsubscribe and close to `onCall` (e.g.
 * `engine.subscribe project:1`). A test overrides what it needs, such as `history`.
 */
export class StubEngine implements Engine {
	readonly #engine = new MemoryEngine();
	readonly #onCall: (call: string) => void;

	constructor(onCall: (call: string) => void = () => {}) {
		this.#onCall = onCall;
	}

	start(handlers: EngineHandlers): void {
		this.#engine.start(handlers);
	}

	subscribe(room: string): void {
		this.#onCall(`engine.subscribe ${room}`);
		this.#engine.subscribe(room);
	}

	unsubscribe(room: string): void {
		this.#onCall(`engine.unsubscribe ${room}`);
		this.#engine.unsubscribe(room);
	}

	publish(
		room: string,
		message: unknown,
		options?: PublishOptions
	): Promise<StreamPosition | undefined> {
		return this.#engine.publish(room, message, options);
	}

	history(room: string, since?: StreamPosition): Promise<HistoryResult> {
		return this.#engine.history(room, since);
	}

	async close(): Promise<void> {
		this.#onCall('engine.close');
		await this.#engine.close();
	}
}
