import type { ServerInit } from '@sveltejs/kit';
import { sockets } from '$demo/realtime';
import { sessionSecret } from '$demo/session';
import { securityHeaders } from './security-headers.js';

// SvelteKit runs `init` at startup: the demo's socket server exists (and its engine is ready) before
// server.js or `vite preview` attach it and before the first request. A production server with the
// public session secret stops here, with a message that says what to set.
export const init: ServerInit = async () => {
	sessionSecret();
	await sockets.ready();
};

export const handle = securityHeaders;
