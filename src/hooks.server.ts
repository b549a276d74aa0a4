import type { ServerInit } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { sockets } from '$demo/realtime';
import { sessionSecret } from '$demo/session';
import { compressResponses } from './compression.js';
import { securityHeaders } from './security-headers.js';

// SvelteKit runs `init` at startup: the demo's socket server exists (and its engine is ready) before
// server.js or `vite preview` attach it and before the first request. A production server with the
// public session secret stops here, with a message that says what to set.
export const init: ServerInit = async () => {
	sessionSecret();
	await sockets.ready();
};

// Compression comes first so that it wraps the response last, with every header already set.
export const handle = sequence(compressResponses, securityHeaders);
