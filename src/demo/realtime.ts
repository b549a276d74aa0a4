import { createSocketServer, defineRoute, shareSocketServer } from 'runesocket/server';
import { Ping, Tick } from './messages.js';

const TICK_INTERVAL_MS = 1_000;

function createDemoServer() {
	const sockets = createSocketServer({
		routes: [defineRoute({ path: '/ws', heartbeat: 30_000 })]
	});
	sockets.on(Ping, (_connection, { sentAt }, reply) => reply({ sentAt }));
	let count = 0;
	const ticker = setInterval(() => {
		sockets.publish(Tick, { count: ++count, at: Date.now() }).catch(() => {});
	}, TICK_INTERVAL_MS);
	ticker.unref();
	return sockets;
}

/** The demo's socket server: one per process, shared by Vite's plugin, SvelteKit and server.js. */
export const sockets = shareSocketServer(createDemoServer);
