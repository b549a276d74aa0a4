// The inbound benchmark's server: runesocket's own (createSocketServer on MemoryEngine, from the
// working tree), in its own process, so the frames the clients parse are exactly the ones a
// runesocket server sends for a room delivery. It publishes a burst to one room when told to.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSocketServer, MemoryEngine } from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import {
	TICK,
	tickData,
	type PayloadSize,
	type ServerCommand,
	type ServerReport,
	type TickData
} from './messages.js';

const Tick = {
	small: ClientMessage.define<TickData>(TICK.small),
	large: ClientMessage.define<TickData>(TICK.large)
};

function report(message: ServerReport): void {
	process.send?.(message);
}

const sockets = createSocketServer({
	engine: new MemoryEngine(),
	// The clients only join and read; a burst of thousands of frames must not count as a slow reader.
	routes: [{ path: '/ws', origins: 'any', rateLimit: false, maxBufferedBytes: 256 * 1024 * 1024 }]
});
const http = createServer((_, response) => response.writeHead(404).end());
sockets.attach(http);

/** Every publish of the burst in one turn, as an application publishing a burst would. */
async function publishBurst(room: string, size: PayloadSize, count: number): Promise<void> {
	const pending: Promise<unknown>[] = [];
	for (let seq = 0; seq < count; seq++) {
		pending.push(sockets.publish(Tick[size], tickData(size, seq), { room }));
	}
	await Promise.all(pending);
}

process.on('message', (command: ServerCommand) => {
	if (command.type == 'exit') {
		void sockets.close().finally(() => process.exit(0));
		return;
	}
	publishBurst(command.room, command.size, command.count).then(
		() => report({ type: 'published' }),
		(error: unknown) => report({ type: 'failed', error: String(error) })
	);
});
process.on('disconnect', () => process.exit(0));

await sockets.ready();
http.listen(0, '127.0.0.1', () => {
	report({ type: 'listening', port: (http.address() as AddressInfo).port });
});
