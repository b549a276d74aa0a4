// The compat entry: seed 000's plain-callback handles, for code written against them. Both are
// built on SocketClient with raw JSON frames; new code uses `runesocket` and `runesocket/svelte`.
export { createWebSocket } from './create-web-socket.js';
export type {
	ApiClientConfig,
	CloseInfo,
	WebSocketClient,
	WebSocketConfig
} from './create-web-socket.js';
export { useWebSocket } from './use-web-socket.svelte.js';
export type { UseWebSocketOptions, UseWebSocketReturn } from './use-web-socket.svelte.js';
