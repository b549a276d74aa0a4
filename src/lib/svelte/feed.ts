import type { MessageDefinition } from '../protocol/message.js';
import type { PresenceMembers } from '../protocol/presence.js';

/**
 * What a feed (`Latest`, `Stream`, `Collection`) needs from the `LiveSocket` that made it. Feeds
 * keep their data; the host owns the client, the connection and the batch. A feed registers with
 * the host only while something reads it, so one that is dropped is garbage at once.
 */
export interface FeedHost {
	/**
	 * Calls `handler` with every valid `definition` message (only those published to `room`, when
	 * given) and retains the connection, until the returned function is called. Messages are handed
	 * on at the flush, in arrival order; a keyed one a later waiting one supersedes never is.
	 */
	follow<Data>(
		definition: MessageDefinition<Data>,
		handler: (data: Data) => void,
		room?: string
	): () => void;
	/**
	 * Calls `reset` whenever the server says `room` (any room, when not given) could not be replayed:
	 * what the feed built from its messages is no longer the truth. Until the returned function is
	 * called: a feed asks only while it follows, so that the host never keeps a feed nobody reads.
	 */
	onReset(room: string | undefined, reset: () => void): () => void;
	/** Calls `publish` at the next flush: once, however often it is asked before then. */
	schedule(publish: () => void): void;
	/**
	 * Joins `room` and calls `onChange` with its members whenever they change (`watchPresence`), and
	 * retains the connection, until the returned function is called.
	 */
	watchPresence<Data>(room: string, onChange: (members: PresenceMembers<Data>) => void): () => void;
}
