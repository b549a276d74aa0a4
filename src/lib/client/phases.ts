// The phases of a SocketClient's connection: its one lifecycle value, changed only by `#enter`.
// Each phase owns what `#enter` tears down when it is left.
//
//                connect()             opened
//   STOPPED ───────────────▶ OPENING ─────────▶ OPEN
//                              ▲   │ failed       │ closed
//                        delay │   ▼              ▼
//                            WAITING ◀──── will reconnect (else STOPPED, or PAUSED while blocked)
//                              ▲   │ page offline, hidden or frozen
//           page back, at once │   ▼
//                             PAUSED
//
// disconnect() goes to STOPPED from any phase; connect() on a blocked page goes to PAUSED.
//
// Numbers in this order, so that `phase > WAITING` means "owns a socket or is getting one". Numeric
// constants, not a union of strings: bundlers inline them, and the strings cost SocketClient's
// bundle 43 B min+gz (measured), which its budget (bench/bundle.ts) does not have.

/** `connect()` was never called, or `disconnect()` was, or the client gave up. */
export const STOPPED = 0;

/** Wants a connection, but the page is offline, hidden or in the back/forward cache. */
export const PAUSED = 1;

/** Waiting for the reconnect delay; owns the reconnect timer. */
export const WAITING = 2;

/**
 * Asking for the URL and token, or waiting for the socket to open; owns the socket and the
 * connection timer.
 */
export const OPENING = 3;

/** Connected; owns the socket, the heartbeat and the deadline for rejoin answers. */
export const OPEN = 4;

/** One of the phases above. */
export type Phase = typeof STOPPED | typeof PAUSED | typeof WAITING | typeof OPENING | typeof OPEN;
