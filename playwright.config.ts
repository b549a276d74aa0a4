import { defineConfig } from '@playwright/test';

const port = Number(process.env.E2E_PORT ?? 4319);

export default defineConfig({
	testDir: 'tests/e2e',
	outputDir: 'tests/e2e/output',
	timeout: 30_000,
	workers: 1,
	reporter: process.env.CI
		? [['list'], ['json', { outputFile: 'test-results/playwright.json' }]]
		: 'list',
	use: {
		baseURL: `http://127.0.0.1:${port}`,
		launchOptions: {
			// Debian's Chromium: Playwright cannot download its own browsers on this network.
			executablePath: '/usr/bin/chromium',
			args: [
				'--no-sandbox',
				'--disable-gpu',
				'--disable-quic',
				'--no-first-run',
				'--disable-background-networking',
				'--disable-component-update',
				'--disable-sync'
			]
		}
	},
	webServer: {
		command: `npx tsx tests/e2e/fixtures/client-lab-server.ts ${port}`,
		url: `http://127.0.0.1:${port}/health`,
		reuseExistingServer: !process.env.CI,
		timeout: 60_000
	}
});
