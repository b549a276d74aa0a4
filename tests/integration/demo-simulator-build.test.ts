import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { forkSimulator } from '../../src/demo/simulator-fork.js';
import { Signal } from '../kit/chaos.js';
import { watchDemoAccount } from '../kit/demo-account.js';
import { startRedisServer, type RedisServer } from '../kit/servers/redis-server.js';
import { within } from '../kit/wait.js';

// A production deploy has build/ and its production dependencies, but neither src/ nor tsx: the
// demo's simulator must run there from what `npm run build` emits. These tests build it the way the
// build script does, into a directory outside the project (no node_modules above it), and run it
// with plain node against a private redis-server.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const SIMULATOR_ENVIRONMENT = {
	DEMO_SIMULATOR_LEASE_MS: '600',
	DEMO_MONITOR_INTERVAL_MS: '50',
	DEMO_INCIDENT_INTERVAL_MS: '0'
};

let deploy: string;
const children: ChildProcess[] = [];
const closers: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
	deploy = mkdtempSync(join(tmpdir(), 'runesocket-deploy-'));
	mkdirSync(join(deploy, 'build'));
	// adapter-node's entry, which marks the directory as a build; the simulator does not load it.
	writeFileSync(join(deploy, 'build/handler.js'), '');
	await exited(
		spawn(process.execPath, ['scripts/build-simulator.mjs', join(deploy, 'build/simulator.js')], {
			cwd: ROOT,
			stdio: 'inherit'
		})
	);
	// simulator-fork.ts bundled as Vite bundles it: into a chunk two levels below build/.
	await build({
		entryPoints: [join(ROOT, 'src/demo/simulator-fork.ts')],
		outfile: join(deploy, 'build/server/chunks/realtime.js'),
		bundle: true,
		platform: 'node',
		format: 'esm',
		logLevel: 'warning'
	});
	writeFileSync(
		join(deploy, 'server.js'),
		[
			"import { forkSimulator } from './build/server/chunks/realtime.js';",
			'const stop = forkSimulator();',
			'const alive = setInterval(() => {}, 60_000);',
			"process.once('SIGTERM', () => { stop(); clearInterval(alive); });"
		].join('\n')
	);
}, 60_000);

afterAll(() => rmSync(deploy, { recursive: true, force: true }));

afterEach(async () => {
	for (const child of children.splice(0)) {
		if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	}
	await Promise.all(closers.splice(0).map((close) => close()));
});

/** Resolves once `child` exited and its output closed; rejects if it failed. */
function exited(child: ChildProcess): Promise<void> {
	return new Promise((resolve, reject) => {
		child.once('close', (code) =>
			code === 0 ? resolve() : reject(new Error(`exit code ${code}`))
		);
	});
}

/** Runs `script` of the deploy directory with plain node (no loader) on `redis`; its output is in `log`. */
function plainNode(script: string, redis: RedisServer, signal: Signal) {
	const child = spawn(process.execPath, [script], {
		cwd: deploy,
		env: { ...process.env, ...SIMULATOR_ENVIRONMENT, REDIS_URL: redis.url, NODE_OPTIONS: '' },
		stdio: ['ignore', 'pipe', 'pipe']
	});
	children.push(child);
	const run = { child, log: '' };
	const read = (chunk: Buffer) => {
		run.log += chunk.toString();
		signal.changed();
	};
	child.stdout?.on('data', read);
	child.stderr?.on('data', read);
	return run;
}

/** Calls `run` with `variables` set in this process's environment (a fork inherits them), then restores it. */
function withEnvironment<T>(variables: Record<string, string>, run: () => T): T {
	const previous = Object.fromEntries(
		Object.keys(variables).map((name) => [name, process.env[name]])
	);
	Object.assign(process.env, variables);
	try {
		return run();
	} finally {
		for (const [name, value] of Object.entries(previous)) {
			if (value === undefined) delete process.env[name];
			else process.env[name] = value;
		}
	}
}

describe('the demo simulator in a production build', { timeout: 60_000 }, () => {
	it('build/simulator.js runs under plain node without src/ or node_modules and publishes', async () => {
		const redis = await startRedisServer();
		const signal = new Signal();
		const changes = await watchDemoAccount(redis, signal, closers);
		const simulator = plainNode('build/simulator.js', redis, signal);
		await signal.until(() => simulator.log.includes('simulator: running'), 'the simulator to run');
		await signal.until(() => changes.length >= 5, '5 monitor changes');
		expect(changes.slice(0, 5).map((change) => change.offset)).toEqual([1, 2, 3, 4, 5]);
	});

	it('forkSimulator, bundled into the build, forks build/simulator.js with plain node', async () => {
		const redis = await startRedisServer();
		const signal = new Signal();
		const changes = await watchDemoAccount(redis, signal, closers);
		const server = plainNode('server.js', redis, signal);
		await signal.until(
			() => server.log.includes('simulator: running'),
			'the forked simulator to run'
		);
		await signal.until(() => changes.length >= 5, '5 monitor changes');
		expect(server.log).not.toContain('no simulator');
		// The simulator holds the server's output open: both are gone once it closes.
		const closed = new Promise((resolve) => server.child.once('close', resolve));
		server.child.kill('SIGTERM');
		await within(closed, 'the server and its simulator to exit');
	});

	it('forkSimulator from the source runs simulator-process.ts through tsx', async () => {
		const redis = await startRedisServer();
		const signal = new Signal();
		const changes = await watchDemoAccount(redis, signal, closers);
		const stop = withEnvironment({ ...SIMULATOR_ENVIRONMENT, REDIS_URL: redis.url }, forkSimulator);
		closers.unshift(async () => stop());
		await signal.until(() => changes.length >= 5, '5 monitor changes');
		expect(changes.slice(0, 5).map((change) => change.offset)).toEqual([1, 2, 3, 4, 5]);
	});
});
