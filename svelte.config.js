import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	kit: {
		adapter: adapter(),
		alias: {
			// The demo uses the library only through its public entry points.
			runesocket: 'src/lib',
			$demo: 'src/demo'
		},
		// Only the app's own files run, style and connect. The demo's page has no inline script (csr =
		// false: its one script is the island's file, its props a JSON data block); 'auto' would
		// still give a page rendered with SvelteKit's client a nonce for its start-up script.
		// src/security-headers.ts adds ws:// and wss:// of the page's own host to connect-src for
		// browsers where 'self' does not cover WebSockets yet.
		csp: {
			mode: 'auto',
			directives: {
				'default-src': ['self'],
				'script-src': ['self'],
				'style-src': ['self'],
				// The one inline style SvelteKit renders itself: its route announcer's, allowed by its
				// hash (kit#11993). A Kit upgrade that changes it fails the dashboard e2e tests loudly.
				'style-src-attr': ['unsafe-hashes', 'sha256-S8qMpvofolR8Mpjy4kQvEm7m1q8clzU4dfDH0AmvZjo='],
				'img-src': ['self', 'data:'],
				'font-src': ['self'],
				'connect-src': ['self'],
				'object-src': ['none'],
				'base-uri': ['self'],
				'form-action': ['self'],
				'frame-ancestors': ['none']
			}
		}
	}
};

export default config;
