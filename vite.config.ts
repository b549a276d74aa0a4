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
	// Rolldown's report that SvelteKit's adapter step takes a while is no warning about this project.
	build: { rolldownOptions: { checks: { bundlerTimings: false } } },
	test: {
		include: ['tests/unit/**/*.test.ts', 'tests/integration/**/*.test.ts'],
		environment: 'node',
		testTimeout: 15_000,
		hookTimeout: 15_000,
		// In CI a test that fails once is tried again, which tells a flaky test from a broken one;
		// either fails the run unless .ci/quarantine.json names it (.ci/summarize.mjs).
		retry: process.env.CI ? 1 : 0,
		// One fast-check seed per run (FC_SEED picks it): a retry meets the same cases again.
		globalSetup: ['tests/setup/property-seed.global.ts'],
		setupFiles: ['tests/setup/property-seed.ts'],
		reporters: process.env.CI ? ['default', 'json'] : ['default'],
		outputFile: { json: 'test-results/vitest.json' }
	}
});
