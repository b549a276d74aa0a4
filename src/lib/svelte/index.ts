export { LiveSocket } from './live-socket.svelte.js';
export type { LiveSocketOptions } from './live-socket.svelte.js';
export type { Latest, LatestOptions } from './latest.svelte.js';
export type { Stream, StreamOptions } from './stream.svelte.js';
export type { Collection, CollectionOptions } from './collection.svelte.js';
export type { Schedule } from './batch.js';
export { getSocket, setSocket } from './context.js';
export { useWebSocket } from './use-websocket.svelte.js';
export type { UseWebSocketOptions, UseWebSocketReturn } from './use-websocket.svelte.js';
