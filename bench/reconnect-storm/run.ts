// `npx tsx bench/reconnect-storm/run.ts [--rounds N] [--clients N] [--outage MS] [--no-socket-io]`:
// 1,000 clients lose their server (SIGKILL), which comes back on the same port after a fixed
// outage; how hard do they hit it, and how long until all are back? runesocket's SocketClient (full
// jitter) against a no-jitter exponential baseline on plain ws, and Socket.IO for reference,
// interleaved round by round; medians.
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { describeMachine, loadAverage } from '../throughput/machine.js';
import { packageVersion } from '../throughput/servers/package-version.js';
import type { ClientKind } from './messages.js';
import { histogramTable, summaryTable } from './report.js';
import { runStorm, type StormMeasurement } from './storm.js';

/**
 * How the storm benchmark runs: interleaved rounds (each kind of client once per round), and
 * optionally the number of clients (default 1,000), the outage (default 2,000 ms) and whether
 * Socket.IO takes part (default yes).
 *
 * @example
 * const options: ReconnectStormOptions = { rounds: 3, socketIo: false };
 */
export interface ReconnectStormOptions {
	rounds: number;
	clients?: number;
	outageMs?: number;
	socketIo?: boolean;
}

/**
 * Runs the reconnect-storm benchmark and prints its Markdown tables; resolves false when a storm
 * failed (a process died, or a client was not back within a minute).
 *
 * @example
 * ```ts
 * const ok = await runReconnectStorm({ rounds: 3 });
 * if (!ok) process.exitCode = 1;
 * ```
 */
export async function runReconnectStorm(options: ReconnectStormOptions): Promise<boolean> {
	const { rounds, clients = 1_000, outageMs = 2_000, socketIo = true } = options;
	const kinds: ClientKind[] = [
		'runesocket',
		'baseline',
		...(socketIo ? ['socket.io' as const] : [])
	];
	const results = new Map<ClientKind, StormMeasurement[]>(kinds.map((kind) => [kind, []]));
	const loadBefore = loadAverage();
	const started = Date.now();
	let failed = false;
	for (let round = 1; round <= rounds; round++) {
		for (const kind of kinds) {
			try {
				results.get(kind)!.push(await runStorm(kind, { clients, outageMs }));
			} catch (error) {
				failed = true;
				console.log(`FAILED: ${kind}, round ${round}: ${String(error)}`);
			}
		}
	}
	const elapsed = ((Date.now() - started) / 1000).toFixed(0);
	console.log(
		`\n## Reconnect storm: ${clients.toLocaleString('en')} clients in 100 rooms, server SIGKILLed and back on the same port after ${outageMs} ms (load ${loadBefore} → ${loadAverage()}, ${elapsed} s)\n`
	);
	console.log(describeMachine());
	console.log(
		`ws ${packageVersion('ws')}, socket.io ${packageVersion('socket.io')}, socket.io-client ${packageVersion('socket.io-client')}; ${rounds} interleaved rounds, medians; times after the restart\n`
	);
	const measured = new Map([...results].filter(([, storms]) => storms.length > 0));
	console.log(summaryTable(measured).join('\n'));
	console.log(
		'\nUpgrade requests the restarted server saw, per interval after the restart (the round with the median all-back time):\n'
	);
	console.log(histogramTable(measured).join('\n'));
	return !failed;
}

if (process.argv[1] == fileURLToPath(import.meta.url)) {
	const { values } = parseArgs({
		options: {
			rounds: { type: 'string', default: '3' },
			clients: { type: 'string', default: '1000' },
			outage: { type: 'string', default: '2000' },
			'no-socket-io': { type: 'boolean', default: false }
		}
	});
	const ok = await runReconnectStorm({
		rounds: Number(values.rounds),
		clients: Number(values.clients),
		outageMs: Number(values.outage),
		socketIo: !values['no-socket-io']
	});
	if (!ok) process.exitCode = 1;
}
