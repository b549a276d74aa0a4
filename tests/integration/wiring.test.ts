import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_BUDGET, measureBundle } from '../../bench/bundle.js';
import WebSocket from 'ws';
import { Disconnected } from '../../src/lib/index.js';
import { MonitorStatusChanged, Ping, projectRoom } from '../../src/demo/messages.js';
import { PROJECTS } from '../../src/demo/dashboard.js';
import { signSession } from '../../src/demo/session.js';
import { errorsOf, makeClient } from '../kit/clients.js';
import { nextEvent, reachState, within } from '../kit/wait.js';

// The socket server wired into real processes: `vite dev` and `vite preview` through the Vite
// plugin, and the production `server.js` over adapter-node's build.
const root = fileURLToPath(new URL('../..', import.meta.url));
const vite = `${root}node_modules/vite/bin/vite.js`;
const children: ChildProcess[] = [];

afterEach(() => {
	for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

async function freePort(): Promise<number> {
	const server = createServer();
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address() as { port: number };
	await new Promise<void>((resolve) => server.close(() => resolve()));
	return port;
}

/** Starts a process and resolves once its output says it listens. */
async function start(args: string[], ready: RegExp, env: Record<string, string> = {}) {
	// The children must not believe they run under vitest (which disables the plugin) or in test mode.
	const inherited = Object.fromEntries(
		Object.entries(process.env).filter(([name]) => !name.startsWith('VITEST') && name != 'NODE_ENV')
	);
	const child = spawn(process.execPath, args, {
		cwd: root,
		env: { ...inherited, DEMO_MONITOR_INTERVAL_MS: '200', ...env, NO_COLOR: '1', FORCE_COLOR: '0' }
	});
	children.push(child);
	let output = '';
	await within(
		new Promise<void>((resolve, reject) => {
			const read = (chunk: Buffer) => {
				output += chunk.toString();
				if (ready.test(output)) resolve();
			};
			child.stdout.on('data', read);
			child.stderr.on('data', read);
			child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${output}`)));
		}),
		`${args.join(' ')} to listen`,
		60_000
	);
	return { child, output: () => output };
}

const USER = { name: 'Ada', account: 'wiring' };
// `vite preview` runs in production mode, where the demo refuses the public session secret; the
// children inherit this one, and the test signs its tokens with it.
process.env.DEMO_SECRET ??= 'wiring-test-secret-of-at-least-32-chars';
const TOKEN = signSession(USER);

/**
 * What every wiring must do: serve the dashboard to a signed-in user, and a socket route that
 * authenticates by first message, delivers the simulator's live monitor changes and answers requests.
 */
async function expectLiveSocket(port: number): Promise<void> {
	const page = await fetch(`http://127.0.0.1:${port}/`, {
		headers: { cookie: `runesocket_session=${TOKEN}` }
	});
	expect(page.status).toBe(200);
	expect(await page.text()).toContain('Incidents');

	const client = makeClient(`ws://127.0.0.1:${port}/ws`, { auth: () => TOKEN });
	for (const project of Object.keys(PROJECTS)) client.joinRoom(projectRoom(USER.account, project));
	const change = new Promise<string>((resolve) =>
		client.on(MonitorStatusChanged, ({ account }) => resolve(account))
	);
	client.connect();
	await reachState(client, 'connected', 10_000).catch((error) => {
		throw new Error(
			`${error.message}: ${errorsOf(client)
				.map((e) => e.message)
				.join('; ')}`
		);
	});
	expect(await within(change, 'a monitor change', 5_000)).toBe(USER.account);
	expect(await client.request(Ping, { sentAt: 42 })).toEqual({ sentAt: 42 });
}

function refusedStatus(url: string, headers: Record<string, string>): Promise<number> {
	return within(
		new Promise<number>((resolve, reject) => {
			const socket = new WebSocket(url, { headers });
			socket.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
			socket.on('open', () => reject(new Error('the upgrade was accepted')));
			socket.on('error', () => {});
		}),
		'the refused upgrade'
	);
}

describe('vite dev', () => {
	it('serves the socket route through the plugin and leaves HMR alone', async () => {
		const port = await freePort();
		await start(
			[vite, 'dev', '--port', String(port), '--strictPort', '--host', '127.0.0.1'],
			/Local:/
		);
		await expectLiveSocket(port);

		const hmr = new WebSocket(`ws://127.0.0.1:${port}/`, 'vite-hmr');
		const greeting = await within(
			new Promise<string>((resolve) => hmr.once('message', (data) => resolve(data.toString()))),
			"Vite's HMR greeting"
		);
		expect(JSON.parse(greeting)).toMatchObject({ type: 'connected' });
		hmr.close();

		expect(
			await refusedStatus(`ws://127.0.0.1:${port}/ws`, { Origin: 'http://evil.example' })
		).toBe(403);
		// Issue 8, defect 6: an upgrade no one routes (not HMR's, not ours) used to hang forever.
		expect(await refusedStatus(`ws://127.0.0.1:${port}/nowhere`, {})).toBe(404);
	}, 90_000);
});

// One build (vite build, then svelte-package) serves every test below, so they run in sequence here.
describe('production build', () => {
	beforeAll(async () => {
		await promisify(execFile)('npm', ['run', 'build'], { cwd: root });
	}, 180_000);

	it('packages dist/ so that publint passes and the client entry stays within budget', async () => {
		const { stdout } = await promisify(execFile)('npx', ['publint'], { cwd: root });
		expect(stdout).toContain('All good!');
		const size = (await measureBundle(`export { SocketClient } from './dist/index.js';`, root))
			.gzipped;
		console.log(`dist SocketClient: ${size} B min+gz`);
		expect(size).toBeLessThanOrEqual(CLIENT_BUDGET);
	}, 60_000);

	it('ships declarations a strict consumer compiles without skipLibCheck', async () => {
		const consumer = join(await mkdtemp(join(tmpdir(), 'runesocket-consumer-')), 'consumer.ts');
		await writeFile(
			consumer,
			['', '/server', '/svelte', '/redis', '/vite', '/compat']
				.map(
					(entry, index) => `export * as entry${index} from '${root}dist${entry || ''}/index.js';`
				)
				.join('\n')
		);
		const tsc = `${root}node_modules/typescript/bin/tsc`;
		const args = [tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--module', 'nodenext'];
		args.push('--moduleResolution', 'nodenext', '--target', 'es2022', '--ignoreConfig');
		args.push('--typeRoots', `${root}node_modules/@types`, '--types', 'node', consumer);
		await promisify(execFile)(process.execPath, args, { cwd: root });
	}, 60_000);

	it('server.js serves the app, its sockets and (with a token) its metrics on one port, and closes sockets with 1001 on SIGTERM', async () => {
		const port = await freePort();
		const { child } = await start(['server.js'], /Listening on/, {
			PORT: String(port),
			HOST: '127.0.0.1',
			METRICS_TOKEN: 'scrape-me'
		});
		await expectLiveSocket(port);
		expect(await refusedStatus(`ws://127.0.0.1:${port}/nowhere`, {})).toBe(404);

		// Metrics at /metrics behind the token; the sockets just opened are counted.
		const metricsUrl = `http://127.0.0.1:${port}/metrics`;
		expect((await fetch(metricsUrl)).status).toBe(401);
		const scraped = await fetch(metricsUrl, { headers: { authorization: 'Bearer scrape-me' } });
		expect(scraped.status).toBe(200);
		expect(await scraped.text()).toMatch(
			/^runesocket_connections_opened_total\{route="\/ws"\} [1-9]/m
		);

		const client = makeClient(`ws://127.0.0.1:${port}/ws`, { reconnect: false, auth: () => TOKEN });
		client.connect();
		await reachState(client, 'connected');
		const disconnected = nextEvent(client, Disconnected);
		const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
		child.kill('SIGTERM');
		expect((await disconnected).code).toBe(1001);
		expect(await within(exited, 'server.js to exit')).toBe(0);
	}, 60_000);

	it('vite preview serves the socket route through the plugin', async () => {
		const port = await freePort();
		await start(
			[vite, 'preview', '--port', String(port), '--strictPort', '--host', '127.0.0.1'],
			/Local:/
		);
		await expectLiveSocket(port);
		expect(await refusedStatus(`ws://127.0.0.1:${port}/nowhere`, {})).toBe(404);
	}, 60_000);
});
