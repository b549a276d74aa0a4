import { describe, expect, it } from 'vitest';
import { LocalRooms, type RoomMember } from '../../../../src/lib/server/rooms/local-rooms.js';
import { MemoryEngine } from '../../../../src/lib/engine/memory-engine.js';
import { ServerMetrics } from '../../../../src/lib/server/metrics/metrics.js';
import type { PreparedMessage } from '../../../../src/lib/server/transport/prepared-message.js';

/** A member that records what it is sent, as text. */
function member(id: string): RoomMember & { readonly received: string[] } {
	const joinedRooms = new Set<string>();
	const received: string[] = [];
	const record = (message: PreparedMessage) => received.push(message.payload.toString());
	return {
		id,
		authenticated: true,
		joinedRooms,
		received,
		sendPrepared: (message) => (record(message), true),
		deliverToRoom: (_room, message) => record(message),
		sendReserved: (name, data) => (received.push(JSON.stringify({ name, data })), true),
		startReplay: () => {},
		leaveRoom: (room) => void joinedRooms.delete(room),
		endReplay: () => {},
		conflated: () => {}
	};
}

describe('LocalRooms metrics', () => {
	it('counts a room reported unrecoverable while streaming once, however many members it has', async () => {
		const metrics = new ServerMetrics();
		const engine = new MemoryEngine();
		await engine.start({ deliver: () => {} });
		const rooms = new LocalRooms(
			engine,
			Promise.resolve(),
			(error) => {
				throw error;
			},
			metrics
		);
		const [ann, ben] = [member('ann'), member('ben')];
		rooms.add(ann, 'feed');
		rooms.add(ben, 'feed');
		rooms.deliver('feed', { name: 'tick', data: 1, timestamp: 0, offset: 1, epoch: 'first' });
		expect(metrics.unrecoverableWhileStreaming).toBe(0);
		// A new epoch: the room's history was lost in between.
		rooms.deliver('feed', { name: 'tick', data: 2, timestamp: 0, offset: 1, epoch: 'second' });
		expect(metrics.unrecoverableWhileStreaming).toBe(1);
		expect(ann.received.filter((text) => text.includes('"recovered":false'))).toHaveLength(1);
		expect(ben.received.filter((text) => text.includes('"recovered":false'))).toHaveLength(1);
		await engine.close();
	});
});
