import { sveltekit } from '@sveltejs/kit/vite';
import { defineConfig } from 'vitest/config';
import { runesocket } from './src/lib/vite/index.js';
import { islands } from './src/island/vite.js';

export default defineConfig({
	// Under vitest the tests start their own socket servers.
	plugins: [
		sveltekit(),
		islands(),
		!process.env.VITEST && runesocket({ entry: '/src/demo/realtime.ts' })
	],
	// Runes tests under jsdom need Svelte's browser build, or their effects never run.
	resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
	test: {
		include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'],
		environment: 'node',
		testTimeout: 15_000,
		hookTimeout: 15_000,
		reporters: process.env.CI ? ['default', 'json'] : ['default'],
		outputFile: { json: 'test-results/vitest.json' }
	}
});
