// A child process that opens and closes batches of clients when told to:
// `fork('client-process.ts')`, then ClientCommand / ClientReport over IPC.
import { openClient, type OpenClient } from './clients.js';
import type { ClientCommand, ClientReport, ConnectBatch } from './messages.js';

function report(message: ClientReport): void {
	process.send?.(message);
}

const open: OpenClient[] = [];

/**
 * Opens the batch's clients, at most `concurrency` connecting at once, and resolves with the ms from
 * the first connect to the last join answer. Any client that fails fails the batch.
 */
async function connect(batch: ConnectBatch): Promise<number> {
	const started = performance.now();
	let next = 0;
	const worker = async (): Promise<void> => {
		while (next < batch.count) {
			const index = next++;
			open.push(await openClient(batch.protocol, batch.port, index, `room-${index % batch.rooms}`));
		}
	};
	await Promise.all(Array.from({ length: Math.min(batch.concurrency, batch.count) }, worker));
	return performance.now() - started;
}

async function disconnect(): Promise<void> {
	const closing = open.splice(0).map((client) => client.close());
	await Promise.all(closing);
}

process.on('message', (command: ClientCommand) => {
	const fail = (error: unknown): void => report({ type: 'failed', error: String(error) });
	if (command.type == 'connect') {
		connect(command.batch).then((ms) => report({ type: 'connected', ms }), fail);
	} else if (command.type == 'disconnect') {
		disconnect().then(() => report({ type: 'disconnected' }), fail);
	} else {
		void disconnect().finally(() => process.exit(0));
	}
});
report({ type: 'ready' });
