// A replay conflates: a client back after an absence gets every unkeyed message and the newest per
// (name, key) from the MemoryEngine's history, in offset order, recovered, at the room's position.
import { describe, it } from 'vitest';
import { MemoryEngine } from '../../src/lib/server/index.js';
import { expectReplayConflated } from '../kit/conflation.js';
import { serve } from '../kit/limits.js';

describe('replay with conflation keys (MemoryEngine)', () => {
	it('sends the unkeyed messages and the newest per name and key, and counts the rest', async () => {
		const server = await serve({}, { engine: new MemoryEngine({ history: { size: 1_000 } }) });
		const { sockets } = server;
		const room = 'board';
		await expectReplayConflated({
			url: server.url(),
			room,
			publish: (definition, data, conflationKey) =>
				sockets.publish(definition, data as never, { room, conflationKey }),
			position: () => sockets.position(room),
			conflated: () => sockets.metricsSnapshot().messagesConflated['/ws'] ?? 0,
			connections: () => sockets.connections.size
		});
	});
});
