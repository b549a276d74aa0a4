import { createContext } from 'svelte';
import type { LiveSocket } from './live-socket.svelte.js';

// Context rather than a module-level singleton: on the server one module serves every request,
// and a socket (with its rooms and messages) must not leak from one user's render to another's.
const [get, set, has] = createContext<LiveSocket>();

/**
 * Shares `socket` with every component below this one; call it while the component initialises.
 * Returns `socket`.
 *
 * @example
 * ```svelte
 * <!-- +layout.svelte -->
 * <script lang="ts">
 * 	import { LiveSocket, setSocket } from 'runesocket/svelte';
 * 	let { children } = $props();
 * 	const socket = setSocket(new LiveSocket('wss://example.com/ws'));
 * </script>
 *
 * {@render children()}
 * ```
 */
export function setSocket(socket: LiveSocket): LiveSocket {
	return set(socket);
}

/**
 * The `LiveSocket` an ancestor shared with `setSocket`; call it while the component initialises.
 * Throws when no ancestor did.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 * 	import { getSocket } from 'runesocket/svelte';
 * 	const socket = getSocket();
 * </script>
 *
 * <p>{socket.state}</p>
 * ```
 */
export function getSocket(): LiveSocket {
	if (!has()) {
		throw new Error(
			'getSocket() found no LiveSocket: call setSocket(new LiveSocket(url)) in a parent component (e.g. the root +layout.svelte) first'
		);
	}
	return get();
}
