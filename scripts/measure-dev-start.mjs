#!/usr/bin/env node
// How long `npm run dev` takes before someone can use it: until Vite prints its URL ("ready"), and
// until GET / is answered 200 (the first request compiles the page and its server modules).
// Runs `vite dev` on a free port a few times and prints each run and the medians. Wall time depends
// on whatever else the machine runs, so each figure also gives the CPU time Vite's process had used
// by then (from /proc, on Linux), which compares runs on a busy machine far better.
//
//   node scripts/measure-dev-start.mjs [runs]      default 3 runs; REDIS_URL etc. are passed through
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const VITE = `${ROOT}node_modules/vite/bin/vite.js`;
const RUNS = Number(process.argv[2] ?? 3);
const GIVE_UP_MS = 90_000;

/** A port nothing listens on right now. */
async function freePort() {
	const server = createServer();
	await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
	const { port } = server.address();
	await new Promise((resolve) => server.close(resolve));
	return port;
}

/** Seconds of CPU (user + system) the process has used so far; NaN where /proc is missing. */
function cpuSeconds(pid) {
	try {
		// Fields after the command name (which is in parentheses and may hold spaces): utime is the
		// 12th of them, stime the 13th, in clock ticks of 1/100 s on Linux.
		const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
		return (Number(fields[11]) + Number(fields[12])) / 100;
	} catch {
		return NaN;
	}
}

/** Resolves with the child's exit once it has ended (at once if it already has). */
function ended(child) {
	if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
	return new Promise((resolve) => child.once('exit', resolve));
}

/** Asks for `/` until it answers 200; resolves with the milliseconds since `startedAt`. */
async function firstPage(url, startedAt, deadline) {
	while (performance.now() < deadline) {
		try {
			const timeout = Math.max(1, Math.ceil(deadline - performance.now()));
			const response = await fetch(url, { signal: AbortSignal.timeout(timeout) });
			await response.arrayBuffer();
			if (response.status == 200) return performance.now() - startedAt;
			throw new Error(`GET / answered ${response.status}`);
		} catch (error) {
			// Refused until Vite listens; anything else is a real failure.
			if (error?.cause?.code != 'ECONNREFUSED') throw error;
		}
		await new Promise((resolve) => setTimeout(resolve, 25));
	}
	throw new Error(`no page within ${GIVE_UP_MS} ms`);
}

async function measureOnce() {
	const port = await freePort();
	const startedAt = performance.now();
	const child = spawn(process.execPath, [VITE, 'dev', '--port', String(port), '--strictPort'], {
		cwd: ROOT,
		env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
		stdio: ['ignore', 'pipe', 'pipe']
	});
	let output = '';
	const ready = new Promise((resolve, reject) => {
		const read = (chunk) => {
			output += chunk;
			if (/ready in/.test(output)) {
				resolve({ ms: performance.now() - startedAt, cpu: cpuSeconds(child.pid) });
			}
		};
		child.stdout.on('data', read);
		child.stderr.on('data', read);
		child.once('exit', (code) => reject(new Error(`vite exited with ${code}:\n${output}`)));
	});
	try {
		const { ms: readyMs, cpu: readyCpu } = await ready;
		// Polled only after "ready": the figure is what a person opening the printed URL waits for.
		const pageMs = await firstPage(`http://127.0.0.1:${port}/`, startedAt, startedAt + GIVE_UP_MS);
		return { readyMs, readyCpu, pageMs, pageCpu: cpuSeconds(child.pid) };
	} finally {
		child.kill('SIGTERM');
		await ended(child);
	}
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
/** `wall s (cpu s CPU)` of one moment. */
const moment = (ms, cpu) => `${(ms / 1000).toFixed(2)} s (${cpu.toFixed(2)} s CPU)`;
const summary = (label, result) =>
	`${label}: ready ${moment(result.readyMs, result.readyCpu)}, ` +
	`GET / 200 ${moment(result.pageMs, result.pageCpu)}`;

const results = [];
for (let run = 1; run <= RUNS; run++) {
	const result = await measureOnce();
	results.push(result);
	console.log(summary(`run ${run}`, result));
}
const medians = Object.fromEntries(
	Object.keys(results[0]).map((key) => [key, median(results.map((result) => result[key]))])
);
console.log(summary(`median of ${RUNS}`, medians));
