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
		}
	}
};

export default config;
