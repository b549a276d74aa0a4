import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Plugin } from 'vite';
import { sharedSocketServer } from '../server/shared-server.js';

/**
 * Options of the runesocket Vite plugin.
 *
 * @example
 * ```ts
 * const options: RunesocketPluginOptions = { entry: '/src/lib/server/realtime.ts' };
 * ```
 */
export interface RunesocketPluginOptions {
	/**
	 * The module that creates your socket server with `shareSocketServer`, loaded when `vite dev`
	 * starts so sockets work before the first page request. Without it, the server comes to life
	 * when SvelteKit first loads a module that imports it (e.g. `hooks.server.ts`).
	 */
	entry?: string;
	/** The key the server was shared under. Default `'default'`. */
	key?: string;
}

/**
 * Serves your socket server's routes from `vite dev` and `vite preview`, on Vite's own port. Upgrade
 * requests for other paths are left to Vite (its HMR socket), and answered 404 if nothing takes them. The socket server itself is the
 * one your app shares with `shareSocketServer`, so SvelteKit endpoints publish through the same
 * instance the sockets are attached to.
 *
 * @example
 * ```ts
 * // vite.config.ts
 * import { sveltekit } from '@sveltejs/kit/vite';
 * import { runesocket } from 'runesocket/vite';
 *
 * export default { plugins: [sveltekit(), runesocket({ entry: '/src/lib/server/realtime.ts' })] };
 * ```
 */
export function runesocket(options: RunesocketPluginOptions = {}): Plugin {
	const { entry, key } = options;
	return {
		name: 'runesocket',
		async configureServer(server) {
			listenForUpgrades(server.httpServer, key);
			if (entry) await server.ssrLoadModule(entry);
		},
		configurePreviewServer(server) {
			listenForUpgrades(server.httpServer, key);
		}
	};
}

/**
 * Looks the shared server up on every upgrade, so one created (or replaced) later is still found.
 * Upgrades for other paths are Vite's (HMR) when it takes them; any left unanswered are refused 404
 * after a grace period instead of holding their sockets forever.
 */
function listenForUpgrades(httpServer: HttpServer | Http2SecureServer | null, key?: string): void {
	httpServer?.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
		const sockets = sharedSocketServer(key);
		if (!sockets) return;
		if (sockets.matches(request)) void sockets.handleUpgrade(request, socket, head);
		else sockets.handleUnroutedUpgrade(socket, httpServer.listenerCount('upgrade') == 1);
	});
}
