import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { expect, test, type Page } from '@playwright/test';
import { demoEnvironment } from '../../playwright.config.js';
import { freePort } from '../kit/servers/process.js';

// The production build's own defences, in Chromium: its Content-Security-Policy (kit.csp plus the
// page's own socket host), its framing and sniffing headers, and server.js refusing to start in
// production with the public session secret.

/** Every CSP violation the page reports, recorded before any of its own scripts run. */
async function recordViolations(page: Page): Promise<() => Promise<string[]>> {
	await page.addInitScript(() => {
		const seen: string[] = [];
		Object.assign(window, { cspViolations: seen });
		document.addEventListener('securitypolicyviolation', (event) =>
			seen.push(`${event.effectiveDirective} ${event.blockedURI}`)
		);
	});
	return () =>
		page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
}

/** Runs server.js until it prints that it listens (then stops it) or exits; returns what it said. */
function runServer(env: Record<string, string | undefined>) {
	const child = spawn(process.execPath, ['server.js'], {
		env: { ...process.env, ...demoEnvironment, ...env }
	});
	let output = '';
	child.stdout.on('data', (chunk: Buffer) => {
		output += chunk.toString();
		if (output.includes('Listening on')) child.kill('SIGTERM');
	});
	child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
	// 'close', not 'exit': the process may be gone before its last output was read.
	return new Promise<{ code: number | null; output: string }>((resolve) =>
		child.once('close', (code) => resolve({ code, output }))
	);
}

test.describe('the production build', () => {
	test('answers a page with its CSP, X-Frame-Options, nosniff and Referrer-Policy', async ({
		request,
		baseURL
	}) => {
		const response = await request.get('/');
		expect(response.status()).toBe(200);
		const headers = response.headers();
		const host = new URL(baseURL!).host;
		const policy = Object.fromEntries(
			headers['content-security-policy']
				.split(';')
				.map((directive) => directive.trim().split(/\s+/))
				.map(([name, ...sources]) => [name, sources])
		);
		expect(policy['default-src']).toEqual(["'self'"]);
		// The page has no inline script (csr = false: no SvelteKit start-up script), so no nonce.
		expect(policy['script-src']).toEqual(["'self'"]);
		expect(policy['style-src']).toEqual(["'self'"]);
		expect(policy['connect-src']).toEqual(["'self'", `ws://${host}`, `wss://${host}`]);
		expect(policy['object-src']).toEqual(["'none'"]);
		expect(policy['frame-ancestors']).toEqual(["'none'"]);
		expect(headers['x-frame-options']).toBe('DENY');
		expect(headers['x-content-type-options']).toBe('nosniff');
		expect(headers['referrer-policy']).toBe('same-origin');
	});

	test('runs the dashboard under its CSP: the socket connects, only an injected script is refused', async ({
		page
	}) => {
		const violations = await recordViolations(page);
		const consoleErrors: string[] = [];
		page.on(
			'console',
			(message) => message.type() == 'error' && consoleErrors.push(message.text())
		);
		await page.goto('/');
		await page.getByLabel('Your name').fill('Ada');
		await page.getByLabel('Team').fill(`team-${randomUUID().slice(0, 8)}`);
		await page.getByRole('button', { name: 'Open the dashboard' }).click();
		await expect(page.getByTestId('connection-badge')).toHaveText('Live', { timeout: 10_000 });
		await page.getByPlaceholder('What is wrong?').fill('Seen through the socket');
		await page.getByRole('button', { name: 'Open incident' }).click();
		await expect(page.getByTestId('incident-list')).toContainText('Seen through the socket');
		expect(await violations()).toEqual([]);
		expect(consoleErrors).toEqual([]);

		// What an injection would add: an inline script without the page's nonce.
		await page
			.evaluate(() => {
				const script = document.createElement('script');
				script.textContent = 'window.injected = true';
				document.body.append(script);
			})
			.catch(() => {});
		await expect.poll(violations).toEqual([expect.stringMatching(/^script-src-elem inline$/)]);
		expect(await page.evaluate(() => 'injected' in window)).toBe(false);
	});

	test('cannot be framed by another page', async ({ page, baseURL }) => {
		await page.setContent(`<iframe src="${baseURL}/" title="framed"></iframe>`);
		const framed = page.frameLocator('iframe[title=framed]');
		// Chromium replaces a frame it refused with its error page.
		await expect
			.poll(() =>
				page
					.frames()
					.find((frame) => frame != page.mainFrame())
					?.url()
			)
			.toMatch(/^chrome-error:/);
		await expect(framed.getByLabel('Your name')).toHaveCount(0);
	});
});

test.describe('server.js', () => {
	test('refuses to start in production with the public session secret, saying what to set', async () => {
		const port = String(await freePort());
		for (const secret of [undefined, 'runesocket-demo-secret']) {
			const { code, output } = await runServer({
				NODE_ENV: 'production',
				DEMO_SECRET: secret,
				PORT: port,
				HOST: '127.0.0.1'
			});
			expect(code).toBe(1);
			expect(output).toContain('refusing to start with NODE_ENV=production');
			expect(output).toContain('Set DEMO_SECRET to a random string of at least 32 characters');
			expect(output).not.toContain('Listening on');
		}
	});

	test('warns loudly at start when outside production it signs with the public secret', async () => {
		const port = String(await freePort());
		const warning = /WARNING: sessions are signed with the PUBLIC secret[^]*set DEMO_SECRET/;
		const outside = await runServer({
			NODE_ENV: 'development',
			DEMO_SECRET: '',
			PORT: port,
			HOST: '127.0.0.1'
		});
		expect(outside.output).toContain('Listening on');
		expect(outside.output).toMatch(warning);
		const ownSecret = await runServer({
			NODE_ENV: 'development',
			DEMO_SECRET: 'a-secret-of-this-laptop',
			PORT: port,
			HOST: '127.0.0.1'
		});
		expect(ownSecret.output).toContain('Listening on');
		expect(ownSecret.output).not.toMatch(warning);
	});

	test('says where a browser finds it when it listens on every interface', async () => {
		const port = String(await freePort());
		const { output } = await runServer({
			NODE_ENV: 'production',
			DEMO_SECRET: 'e2e-only-secret-not-for-any-deployment',
			HOST: '0.0.0.0',
			PORT: port
		});
		expect(output).toContain(`Listening on http://localhost:${port}`);
	});
});
