// The runes entry: a LiveSocket, the context that shares it, and the feed types a component names
// when it takes a feed as a prop. Feed options are reached from the LiveSocket method they belong to.
export { LiveSocket } from './live-socket.svelte.js';
export type { LiveSocketOptions } from './live-socket.svelte.js';
export type { Latest } from './latest.svelte.js';
export type { Presence } from './presence.svelte.js';
export type { Stream } from './stream.svelte.js';
export type { Collection } from './collection.svelte.js';
export { getSocket, setSocket } from './context.js';
