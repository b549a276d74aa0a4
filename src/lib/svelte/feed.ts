import type { MessageDefinition } from '../protocol/message.js';

/**
 * What a feed (`Latest`, `Stream`, `Collection`) needs from the `LiveSocket` that made it. Feeds
 * keep their data; the host owns the client, the connection and the batch.
 *
 * @example
 * ```ts
 * const stop = host.follow(IncidentCreated, (incident) => {
 * 	shadow.push(incident);
 * 	host.schedule(publish);
 * });
 * ```
 */
export interface FeedHost {
	/** Calls `handler` with every valid `definition` message and holds the connection, until the returned function is called. */
	follow<Data>(definition: MessageDefinition<Data>, handler: (data: Data) => void): () => void;
	/** Calls `publish` at the next flush: once, however often it is asked before then. */
	schedule(publish: () => void): void;
}
