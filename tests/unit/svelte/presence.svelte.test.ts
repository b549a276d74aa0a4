// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest';
import type { ServerPeer } from '../../kit/servers/ws-server.js';
import type { LiveSocket } from '../../../src/lib/svelte/index.js';
import { arrival, connectedLive, destroy, watch } from '../../kit/svelte/live.svelte.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

const ROOM = 'team:acme';

/** Sends presence messages and waits until the client received them all. */
async function deliver(socket: LiveSocket, peer: ServerPeer, ...messages: [string, unknown][]) {
	const arrived = arrival(socket.client, messages.length);
	for (const [name, data] of messages) peer.deliver(name, data);
	await arrived;
}

describe('presence', () => {
	it('is a reactive map of the room, published once per flush, and joins the room while read', async () => {
		const { socket, frames, peer } = await connectedLive();
		const viewers = socket.presence<{ name: string }>(ROOM);
		expect(socket.joinedRooms.has(ROOM)).toBe(false);
		const { seen, view } = watch(() => [...viewers.current.keys()]);
		await peer.waitForFrame((text) => text.includes('"room.join"') && text.includes(ROOM));
		expect(socket.joinedRooms.has(ROOM)).toBe(true);

		await deliver(
			socket,
			peer,
			[
				'presence.state',
				{ room: ROOM, members: [['ada', { data: { name: 'Ada' }, connections: 1 }]] }
			],
			[
				'presence.diff',
				{ room: ROOM, set: [['bob', { data: { name: 'Bob' }, connections: 2 }]], removed: [] }
			]
		);
		expect(seen).toEqual([[]]); // nothing before the flush
		frames.run();
		expect(seen).toEqual([[], ['ada', 'bob']]); // both changes in one render
		expect(viewers.current.get('bob')).toEqual({ data: { name: 'Bob' }, connections: 2 });

		destroy(view);
		await peer.waitForFrame((text) => text.includes('"room.leave"') && text.includes(ROOM));
		expect(socket.joinedRooms.has(ROOM)).toBe(false);
	});
});
