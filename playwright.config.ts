import { defineConfig } from '@playwright/test';

const labPort = Number(process.env.E2E_LAB_PORT ?? 4319);
const appPort = Number(process.env.E2E_APP_PORT ?? 4320);

/**
 * The environment of the production demo under test: monitors flap fast, no simulated incidents,
 * and every test's new team from the one address 127.0.0.1 let in.
 */
export const demoEnvironment = {
	DEMO_MONITOR_INTERVAL_MS: '700',
	DEMO_INCIDENT_INTERVAL_MS: '0',
	DEMO_NEW_TEAMS_PER_CLIENT: '100000'
};

/** Debian's Chromium: Playwright cannot download its own browsers on this network. */
export const CHROMIUM = '/usr/bin/chromium';
/** The flags that keep Chromium quiet on a closed network (also the page benchmarks'). */
export const CHROMIUM_FLAGS = [
	'--no-sandbox',
	'--disable-gpu',
	'--disable-quic',
	'--no-first-run',
	'--disable-background-networking',
	'--disable-component-update',
	'--disable-sync'
];

export default defineConfig({
	testDir: 'tests/e2e',
	outputDir: 'tests/e2e/output',
	timeout: 30_000,
	workers: 1,
	// In CI a failed test gets one more try, which tells a flaky test from a broken one: either fails
	// the run unless .ci/quarantine.json names it (.ci/summarize.mjs). Locally a failure stays a failure.
	retries: process.env.CI ? 1 : 0,
	reporter: process.env.CI
		? [['list'], ['json', { outputFile: 'test-results/playwright.json' }]]
		: 'list',
	use: {
		launchOptions: {
			executablePath: CHROMIUM,
			args: CHROMIUM_FLAGS
		}
	},
	projects: [
		{
			name: 'client',
			testMatch: 'client-*.test.ts',
			use: { baseURL: `http://127.0.0.1:${labPort}` }
		},
		{
			name: 'dashboard',
			testMatch: 'dashboard*.test.ts',
			use: { baseURL: `http://127.0.0.1:${appPort}` }
		}
	],
	webServer: [
		{
			command: `npx tsx tests/kit/e2e/client-lab-server.ts ${labPort}`,
			url: `http://127.0.0.1:${labPort}/health`,
			reuseExistingServer: !process.env.CI,
			timeout: 60_000
		},
		{
			// The production build, served the way README says: npm run build && npm start.
			command: 'npm run build && npm start',
			url: `http://127.0.0.1:${appPort}/`,
			// Production, as deployed: which refuses to start without a session secret of its own.
			env: {
				...demoEnvironment,
				PORT: String(appPort),
				HOST: '127.0.0.1',
				NODE_ENV: 'production',
				DEMO_SECRET: 'e2e-only-secret-not-for-any-deployment'
			},
			reuseExistingServer: !process.env.CI,
			timeout: 180_000
		}
	]
});
