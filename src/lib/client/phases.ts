// The phases of a SocketClient's connection, in order, so that `phase > WAITING` means "owns a socket or is
// getting one". Each phase owns what `#enter` tears down when it is left: WAITING the reconnect
// timer, OPENING the socket and the connection timer, OPEN the socket and the heartbeat.
/** `connect()` was never called, or `disconnect()` was, or the client gave up. */
export const STOPPED = 0;
/** Wants a connection, but the page is offline, hidden or in the back/forward cache. */
export const PAUSED = 1;
/** Waiting for the reconnect delay. */
export const WAITING = 2;
/** Asking for the URL and token, or waiting for the socket to open. */
export const OPENING = 3;
export const OPEN = 4;
export type Phase = typeof STOPPED | typeof PAUSED | typeof WAITING | typeof OPENING | typeof OPEN;
