/**
 * How an engine hands a message published to `room` to this process's members. `except` names a
 * connection id that must not receive it (a sender that broadcast without `includeSelf`).
 *
 * @example
 * ```ts
 * const deliver: Deliver = (room, message, except) => rooms.get(room)?.forEach((c) => c.id != except && c.send(message));
 * ```
 */
export type Deliver = (room: string, message: unknown, except?: string) => void;

/**
 * Options of one publish.
 *
 * @example
 * ```ts
 * await engine.publish('project:1', message, { except: connection.id });
 * ```
 */
export interface PublishOptions {
	/** A connection id that must not receive the message. */
	except?: string;
}

/**
 * What carries published messages to the members of a room, wherever they are connected. The server
 * keeps its own members per room and tells the engine which rooms it needs (`subscribe` on the first
 * local member, `unsubscribe` after the last); the engine calls the `deliver` function it was
 * started with for every message published to such a room, by any process. `MemoryEngine` is the
 * single-process default; `runesocket/redis` shares rooms between processes.
 *
 * @example
 * ```ts
 * const server = createSocketServer({ engine: new MemoryEngine(), routes: [{ path: '/ws' }] });
 * ```
 */
export interface Engine {
	/** Called once by the server before anything else. */
	start(deliver: Deliver): void | Promise<void>;
	subscribe(room: string): void | Promise<void>;
	unsubscribe(room: string): void | Promise<void>;
	/** Delivers `message` (any JSON value) to every member of `room`; rejects when it cannot. */
	publish(room: string, message: unknown, options?: PublishOptions): Promise<void>;
	close(): Promise<void>;
}

/**
 * The default engine: one process, no network. Publishing delivers synchronously to this process's
 * members.
 *
 * @example
 * ```ts
 * createSocketServer({ engine: new MemoryEngine(), routes: [{ path: '/ws' }] });
 * ```
 */
export class MemoryEngine implements Engine {
	#deliver: Deliver | undefined;

	start(deliver: Deliver): void {
		this.#deliver = deliver;
	}

	subscribe(): void {}

	unsubscribe(): void {}

	async publish(room: string, message: unknown, options: PublishOptions = {}): Promise<void> {
		this.#deliver?.(room, message, options.except);
	}

	async close(): Promise<void> {
		this.#deliver = undefined;
	}
}
