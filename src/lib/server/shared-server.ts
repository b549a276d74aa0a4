import type { SocketServer } from './socket-server.js';

const REGISTRY = Symbol.for('runesocket.socket-servers');

function registry(): Map<string, SocketServer> {
	const global = globalThis as { [REGISTRY]?: Map<string, SocketServer> };
	global[REGISTRY] ??= new Map();
	return global[REGISTRY];
}

/**
 * One socket server per process under `key`, however many copies of your module load: Vite's config
 * and SvelteKit's server code are separate module graphs in one process, and so are a production
 * `server.js` and the app bundle. The first call creates it; later calls return the same server.
 *
 * @example
 * ```ts
 * // src/lib/server/realtime.ts
 * export const sockets = shareSocketServer(() => createSocketServer({ routes: [{ path: '/ws' }] }));
 * ```
 */
export function shareSocketServer(create: () => SocketServer, key = 'default'): SocketServer {
	const servers = registry();
	let server = servers.get(key);
	if (!server) servers.set(key, (server = create()));
	return server;
}

/**
 * The server shared under `key`, if one was created.
 *
 * @example
 * ```ts
 * // server.js
 * sharedSocketServer()?.attach(httpServer);
 * ```
 */
export function sharedSocketServer(key = 'default'): SocketServer | undefined {
	return registry().get(key);
}

/**
 * Forgets the server shared under `key` (after closing it), so the next `shareSocketServer` creates
 * a new one.
 */
export function forgetSocketServer(key = 'default'): void {
	registry().delete(key);
}
