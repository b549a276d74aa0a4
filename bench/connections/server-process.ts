// A child process, run with --expose-gc, that holds one contender's server and measures its memory
// when told to: `fork('server-process.ts', [contenderName])`, then ServerCommand / ServerReport.
import { getHeapSpaceStatistics, writeHeapSnapshot } from 'node:v8';
import { connectionContenderNamed } from './contenders.js';
import type { MemorySample, ServerCommand, ServerReport } from './messages.js';

function report(message: ServerReport): void {
	process.send?.(message);
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Memory once garbage is gone: collected a few times with turns between, so that what finalizers and
 * closing sockets free in between is collected too.
 */
async function measure(openConnections: number): Promise<MemorySample> {
	const collect = (globalThis as { gc?: () => void }).gc;
	if (!collect) throw new Error('server-process.ts needs --expose-gc');
	for (let pass = 0; pass < 4; pass++) {
		collect();
		await nextTurn();
	}
	const { rss, heapUsed, external } = process.memoryUsage();
	const youngGeneration = getHeapSpaceStatistics()
		.filter(({ space_name }) => space_name == 'new_space' || space_name == 'new_large_object_space')
		.reduce((sum, space) => sum + space.physical_space_size, 0);
	return { rss, youngGeneration, heapUsed, external, open: openConnections };
}

const server = await connectionContenderNamed(process.argv[2] ?? '').start();
report({ type: 'listening', port: server.port, version: server.version });

process.on('message', (command: ServerCommand) => {
	if (command.type == 'measure') {
		measure(server.openConnections()).then(
			(sample) => report({ type: 'measured', ...sample }),
			(error: unknown) => report({ type: 'failed', error: String(error) })
		);
	} else if (command.type == 'snapshot') {
		writeHeapSnapshot(command.file);
		report({ type: 'snapshotted' });
	} else {
		void server.close().finally(() => process.exit(0));
	}
});
