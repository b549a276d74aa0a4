// The phases of a SocketClient's connection, in order, so that `phase > WAITING` means "owns a
// socket or is getting one". Each phase owns what `#enter` tears down when it is left: WAITING the
// reconnect timer, OPENING the socket and the connection timer, OPEN the socket, the heartbeat and
// the rejoin deadline.
// Plain numeric constants, so bundlers inline them.

/**
 * `connect()` was never called, or `disconnect()` was, or the client gave up.
 *
 * @example
 * ```ts
 * if (phase == STOPPED) return; // connect() starts over, nothing else does
 * ```
 */
export const STOPPED = 0;

/**
 * Wants a connection, but the page is offline, hidden or in the back/forward cache.
 *
 * @example
 * ```ts
 * if (phase == PAUSED) schedule(0); // the page came back: reconnect at once
 * ```
 */
export const PAUSED = 1;

/**
 * Waiting for the reconnect delay; owns the reconnect timer.
 *
 * @example
 * ```ts
 * if (phase == WAITING) enter(PAUSED); // hidden: cancel the pending reconnect
 * ```
 */
export const WAITING = 2;

/**
 * Asking for the URL and token, or waiting for the socket to open; owns the socket and the
 * connection timer.
 *
 * @example
 * ```ts
 * if (phase >= OPENING) close(); // offline: drop whatever socket there is
 * ```
 */
export const OPENING = 3;

/**
 * Connected; owns the socket, the heartbeat and the deadline for rejoin answers.
 *
 * @example
 * ```ts
 * if (phase == OPEN) socket.send(frame);
 * ```
 */
export const OPEN = 4;

/**
 * One of the phases above.
 *
 * @example
 * ```ts
 * let phase: Phase = STOPPED;
 * ```
 */
export type Phase = typeof STOPPED | typeof PAUSED | typeof WAITING | typeof OPENING | typeof OPEN;
