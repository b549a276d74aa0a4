// The demo as users meet it, for the page benchmarks: a production build (`npm run build`) of a
// copy of the project, served by its own `node server.js` on a free port of 127.0.0.1.
//
// The build runs in a temporary copy (of the working tree, or of a commit with --ref), with
// node_modules linked, so that builds others start in the working tree meanwhile can neither change
// nor break the one measured, and a commit can be measured while the working tree moves on.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { copySources } from '../sources.js';
import { freePort } from '../throughput/redis-server.js';

const repo = fileURLToPath(new URL('../..', import.meta.url));
/** What `npm run build` and `node server.js` read. */
const BUILD_INPUTS = [
	'src',
	'static',
	'scripts',
	'server.js',
	'package.json',
	'svelte.config.js',
	'vite.config.ts',
	'tsconfig.json'
];
const BUILD_TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 30_000;
/** The demo refuses to start in production with a secret shorter than this. */
const SECRET_BYTES = 24;

/**
 * A built copy of the project.
 *
 * @example
 * const app = buildApp({ ref: 'HEAD' });
 * console.log(app.source); // 'commit 9ff2e09'
 * app.remove();
 */
export interface BuiltApp {
	/** The copy's directory: `node server.js` runs there. */
	readonly dir: string;
	/** What was built: 'the working tree at 9ff2e09 (+ local changes)' or 'commit 9ff2e09'. */
	readonly source: string;
	/** Whether the page in this build draws the `monitor.checked` messages (issue 12's sparklines). */
	readonly drawsMonitorChecks: boolean;
	/**
	 * Whether this build's monitor messages have a conflation key (issue 21): its server then takes
	 * the key with each publish. Older servers know no key, so none is sent to them.
	 */
	readonly conflatesMonitors: boolean;
	remove(): void;
}

/**
 * Copies the working tree (or the commit `ref`) to a temporary directory and runs `npm run build`
 * there; throws with the build's output when it fails.
 *
 * @example
 * const app = buildApp({});
 */
export function buildApp({ ref }: { ref?: string }): BuiltApp {
	const dir = mkdtempSync(join(tmpdir(), 'runesocket-page-bench-'));
	const remove = () => rmSync(dir, { recursive: true, force: true });
	let source: string;
	try {
		source = copySources(repo, dir, BUILD_INPUTS, ref);
		symlinkSync(join(repo, 'node_modules'), join(dir, 'node_modules'), 'dir');
		const build = spawnSync('npm', ['run', 'build'], {
			cwd: dir,
			encoding: 'utf8',
			timeout: BUILD_TIMEOUT_MS
		});
		if (build.status != 0) {
			throw new Error(`npm run build failed (${build.status}):\n${build.stdout.slice(-3000)}
${build.stderr.slice(-3000)}`);
		}
	} catch (error) {
		remove();
		throw error;
	}
	const pageSources = readdirSync(join(dir, 'src/routes'), { recursive: true, encoding: 'utf8' })
		.filter((file) => /\.(svelte|ts)$/.test(file))
		.map((file) => readFileSync(join(dir, 'src/routes', file), 'utf8'));
	const drawsMonitorChecks = pageSources.some((text) => text.includes('MonitorChecked'));
	const conflatesMonitors = readFileSync(join(dir, 'src/demo/messages.ts'), 'utf8').includes(
		'conflationKey'
	);
	return { dir, source, drawsMonitorChecks, conflatesMonitors, remove };
}

/**
 * A `node server.js` of a built copy, in production.
 *
 * @example
 * const server = await startServer(app, { REDIS_URL: redis.url });
 * await server.stop();
 */
export interface RunningServer {
	/** `http://127.0.0.1:<port>` */
	readonly url: string;
	/** The bearer token of its /metrics. */
	readonly metricsToken: string;
	readonly process: ChildProcess;
	stop(): Promise<void>;
}

/**
 * Starts `node server.js` in `app.dir` with NODE_ENV=production, a random session secret and a
 * metrics token, on a free port of 127.0.0.1; resolves once it listens. It is killed when this
 * process exits, however it exits.
 *
 * @example
 * const server = await startServer(app, {});
 */
export async function startServer(
	app: BuiltApp,
	env: Record<string, string>
): Promise<RunningServer> {
	const port = await freePort();
	const metricsToken = randomBytes(16).toString('hex');
	const child = spawn(process.execPath, ['server.js'], {
		cwd: app.dir,
		env: {
			...process.env,
			NODE_ENV: 'production',
			DEMO_SECRET: randomBytes(SECRET_BYTES).toString('hex'),
			METRICS_TOKEN: metricsToken,
			...env,
			HOST: '127.0.0.1',
			PORT: String(port)
		},
		stdio: ['ignore', 'pipe', 'pipe']
	});
	const kill = (): void => void child.kill('SIGKILL');
	process.once('exit', kill);
	child.once('exit', () => process.off('exit', kill));
	let output = '';
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(() => {
			child.kill('SIGKILL');
			reject(new Error(`server.js did not listen within ${START_TIMEOUT_MS} ms:\n${output}`));
		}, START_TIMEOUT_MS);
		const read = (chunk: Buffer) => {
			output += chunk.toString();
			if (output.includes('Listening on')) {
				clearTimeout(timer);
				resolve();
			}
		};
		child.stdout.on('data', read);
		child.stderr.on('data', read);
		child.once('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`server.js exited (${code}) before it listened:\n${output}`));
		});
	});
	// Its log is not read any more, but a full pipe would block it.
	child.stdout.resume();
	child.stderr.resume();
	return {
		url: `http://127.0.0.1:${port}`,
		metricsToken,
		process: child,
		async stop() {
			if (child.exitCode !== null || child.signalCode !== null) return;
			const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
			child.kill('SIGTERM');
			const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
			await exited;
			clearTimeout(timer);
		}
	};
}

/**
 * Signs in as a browser without JavaScript would (the form's POST to `?/signin`) and returns the
 * session cookie as a `Cookie` header value.
 *
 * @example
 * const cookie = await signIn(server.url, 'Ada', 'bench-team');
 */
export async function signIn(baseUrl: string, name: string, team: string): Promise<string> {
	const response = await fetch(`${baseUrl}/?/signin`, {
		method: 'POST',
		// SvelteKit refuses a form POST whose Origin is not its own, and answers one that does not
		// accept HTML with JSON instead of the redirect.
		headers: {
			origin: baseUrl,
			accept: 'text/html',
			'content-type': 'application/x-www-form-urlencoded'
		},
		body: new URLSearchParams({ name, team }),
		redirect: 'manual'
	});
	const cookie = response.headers.getSetCookie().find((line) => line.startsWith('runesocket_'));
	if (response.status != 303 || !cookie) {
		throw new Error(`Sign-in answered ${response.status} without a session cookie`);
	}
	return cookie.split(';')[0];
}

/**
 * One HTTP response as it came over the wire: its headers and the byte count of its body as sent
 * (before any decoding, unlike `fetch`).
 *
 * @example
 * const { headers, bytes } = await rawGet(`${server.url}/`, { 'accept-encoding': 'br, gzip' });
 */
export function rawGet(
	url: string,
	headers: Record<string, string>
): Promise<{
	status: number;
	headers: Record<string, string | string[] | undefined>;
	bytes: number;
}> {
	return new Promise((resolve, reject) => {
		const request = httpRequest(url, { headers }, (response) => {
			let bytes = 0;
			response.on('data', (chunk: Buffer) => (bytes += chunk.byteLength));
			response.on('end', () =>
				resolve({ status: response.statusCode ?? 0, headers: response.headers, bytes })
			);
			response.on('error', reject);
		});
		request.setTimeout(10_000, () => request.destroy(new Error(`GET ${url} timed out`)));
		request.on('error', reject);
		request.end();
	});
}

/**
 * The value of a counter or gauge in the server's /metrics (Prometheus text), summed over its
 * labels, 0 when absent.
 *
 * @example
 * const closes = await metric(server, 'runesocket_slow_consumer_closes_total');
 */
export async function metric(server: RunningServer, name: string): Promise<number> {
	const response = await fetch(`${server.url}/metrics`, {
		headers: { authorization: `Bearer ${server.metricsToken}` }
	});
	if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
	const text = await response.text();
	return text
		.split('\n')
		.filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
		.reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
