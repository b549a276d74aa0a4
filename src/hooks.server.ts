import type { ServerInit } from '@sveltejs/kit';
import { sockets } from '$demo/realtime';

// SvelteKit runs `init` at startup: the demo's socket server exists (and its engine is ready) before
// server.js or `vite preview` attach it and before the first request.
export const init: ServerInit = async () => {
	await sockets.ready();
};
