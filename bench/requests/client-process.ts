// A child process that opens the clients of one contender and sends batches of requests when told
// to: `fork('client-process.ts')`, then ClientCommand / ClientReport over IPC.
import { openClient, runBatch, type RequestClient } from './clients.js';
import type { ClientCommand, ClientReport, RequestMode } from './messages.js';

function report(message: ClientReport): void {
	process.send?.(message);
}

const open: RequestClient[] = [];
let openMode: RequestMode = 'raw-ws';

async function openAll(mode: RequestMode, port: number, count: number): Promise<void> {
	openMode = mode;
	for (let index = 0; index < count; index++) open.push(await openClient(mode, port, index));
}

process.on('message', (command: ClientCommand) => {
	const fail = (error: unknown): void => report({ type: 'failed', error: String(error) });
	if (command.type == 'open') {
		openAll(command.mode, command.port, command.clients).then(
			() => report({ type: 'opened' }),
			fail
		);
	} else if (command.type == 'run') {
		runBatch(open, openMode, command.batch).then((ms) => report({ type: 'done', ms }), fail);
	} else {
		void Promise.all(open.splice(0).map((client) => client.close())).finally(() => process.exit(0));
	}
});
process.on('disconnect', () => process.exit(1));
report({ type: 'ready' });
