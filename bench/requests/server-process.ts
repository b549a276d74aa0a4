// A child process that runs one contender's server and counts its CPU time and handler runs from a
// mark: `fork('server-process.ts', [kind, redisPrefix])`, then ServerCommand / ServerReport over
// IPC. runesocket on Redis uses BENCH_REDIS_URL under `redisPrefix`.
import type { ServerCommand, ServerKind, ServerReport } from './messages.js';
import { startServer } from './servers.js';

function report(message: ServerReport): void {
	process.send?.(message);
}

const redisUrl = process.env.BENCH_REDIS_URL;
const server = await startServer(
	process.argv[2] as ServerKind,
	redisUrl ? { url: redisUrl, prefix: process.argv[3] ?? 'bench:' } : undefined
);
let cpuAtMark = process.cpuUsage();
let handledAtMark = 0;
report({ type: 'listening', port: server.port, version: server.version });

process.on('message', (command: ServerCommand) => {
	if (command.type == 'mark') {
		cpuAtMark = process.cpuUsage();
		handledAtMark = server.handled();
		report({ type: 'marked' });
	} else if (command.type == 'measure') {
		const cpu = process.cpuUsage(cpuAtMark);
		const handled = server.handled() - handledAtMark;
		report({ type: 'measured', cpuMicros: cpu.user + cpu.system, handled });
	} else {
		void server.close().finally(() => process.exit(0));
	}
});
// The orchestrator is gone (it crashed or was killed): nothing will tell this process to exit.
process.on('disconnect', () => process.exit(1));
