/**
 * The `code` of every `error` message a runesocket server sends, in one place. PROTOCOL.md lists
 * when each is sent.
 *
 * @example
 * ```ts
 * import { ErrorCode } from 'runesocket';
 * client.onError((error) => {
 * 	if (error.code == ErrorCode.RateLimited) slowDown();
 * });
 * ```
 */
export const ErrorCode = {
	/** The frame was not JSON, or not a `{name, data}` object. */
	Malformed: 'malformed',
	/** No handler knows this message name. */
	UnknownMessage: 'unknown_message',
	/** The data did not pass the message definition's schema. */
	InvalidData: 'invalid_data',
	/** Too many messages too fast; the message was dropped. */
	RateLimited: 'rate_limited',
	/**
	 * The connection may not do this (`authorizeJoin` refused the room), or is no longer in the room
	 * its `room.join` or `presence.get` request named (it left before the answer).
	 */
	Forbidden: 'forbidden',
	/** A handler, schema or `onMessage` failed, or `authorizeJoin` failed or hung; details stay on the server. */
	Internal: 'internal_error',
	/** The connection is in as many rooms as its route allows (`maxRoomsPerConnection`). */
	TooManyRooms: 'too_many_rooms',
	/**
	 * No handler answered the request within 5 s. Unlike `internal_error`, nothing is known to have
	 * failed: a handler may still be at work, and what it does may still happen.
	 */
	NoReply: 'no_reply',
	/**
	 * A keyed request could not be checked against its key (the engine's store, e.g. Redis, is out
	 * of reach): no handler ran. Send it again later with the same key.
	 */
	Unavailable: 'unavailable',
	/**
	 * A repeat of a keyed request that was applied, whose answer was too large to keep
	 * (`requestKeys.maxBytes`): it is not run again.
	 */
	AnswerNotKept: 'answer_not_kept'
} as const;

/**
 * One of the server's error codes.
 */
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode];
