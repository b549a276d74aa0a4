// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ClientMessage, Unrecoverable } from '../../../src/lib/index.js';
import { nextEvent } from '../../kit/wait.js';
import { arrival, connectedLive, watch } from '../../kit/svelte/live.svelte.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

const Tick = ClientMessage.define('tick', z.object({ n: z.number() }));
const IncidentSaved = ClientMessage.define<{ uuid: string }>('incident.saved');

describe('feeds and unrecoverable rooms', () => {
	it('follow only their room, and are emptied when that room (or, without one, any) is unrecoverable', async () => {
		const { socket, frames, peer } = await connectedLive();
		// The client tracks positions, and takes answers, only for rooms it is in.
		socket.joinRoom('a');
		socket.joinRoom('b');
		const incidents = socket.collection(IncidentSaved, { key: (item) => item.uuid, room: 'a' });
		const ticksOfB = socket.stream(Tick, { room: 'b' });
		const anyTick = socket.latest(Tick);
		const { seen } = watch(() => [
			incidents.current.size,
			ticksOfB.current.length,
			anyTick.current
		]);

		const delivered = arrival(socket.client, 3);
		peer.deliver('incident.saved', { uuid: 'u1' }, { room: 'a', offset: 1, epoch: 'e1' });
		peer.deliver('incident.saved', { uuid: 'u2' }, { room: 'b', offset: 1, epoch: 'e1' });
		peer.deliver('tick', { n: 1 }, { room: 'b', offset: 2, epoch: 'e1' });
		await delivered;
		frames.run();
		expect(seen.at(-1)).toEqual([1, 1, { n: 1 }]);

		const unrecoverable = nextEvent(socket.client, Unrecoverable);
		peer.deliver('room.joined', { room: 'a', offset: 40, epoch: 'e2', recovered: false });
		expect(await unrecoverable).toEqual({ room: 'a' });
		frames.run();
		// Room a's collection and the room-less latest are emptied; room b's stream is untouched.
		expect(seen.at(-1)).toEqual([0, 1, undefined]);

		// Room a continues from the position the server gave: older offsets are dropped, newer kept.
		const after = arrival(socket.client, 1);
		peer.deliver('incident.saved', { uuid: 'old' }, { room: 'a', offset: 40, epoch: 'e2' });
		peer.deliver('incident.saved', { uuid: 'u3' }, { room: 'a', offset: 41, epoch: 'e2' });
		await after;
		frames.run();
		expect([...incidents.current.keys()]).toEqual(['u3']);
	});

	it('keep their items with keepWhenUnrecoverable, until the page replaces them itself', async () => {
		const { socket, frames, peer } = await connectedLive();
		socket.joinRoom('a');
		const kept = socket.collection(IncidentSaved, {
			key: (item) => item.uuid,
			room: 'a',
			keepWhenUnrecoverable: true
		});
		const keptTicks = socket.stream(Tick, { keepWhenUnrecoverable: true });
		const { seen } = watch(() => [[...kept.current.keys()], keptTicks.current.length]);

		const delivered = arrival(socket.client, 2);
		peer.deliver('incident.saved', { uuid: 'u1' }, { room: 'a', offset: 1, epoch: 'e1' });
		peer.deliver('tick', { n: 1 }, { room: 'a', offset: 2, epoch: 'e1' });
		await delivered;
		frames.run();
		expect(seen.at(-1)).toEqual([['u1'], 1]);

		const unrecoverable = nextEvent(socket.client, Unrecoverable);
		peer.deliver('room.joined', { room: 'a', offset: 40, epoch: 'e2', recovered: false });
		await unrecoverable;
		frames.run();
		expect(seen.at(-1)).toEqual([['u1'], 1]);

		kept.replace([{ uuid: 'from-snapshot' }]);
		frames.run();
		expect(seen.at(-1)).toEqual([['from-snapshot'], 1]);
	});

	it('joins with since, so the server can replay from the position a page was loaded at', async () => {
		const { socket, peer } = await connectedLive();
		socket.joinRoom('project:1', { offset: 12, epoch: 'e1' });
		const frame = await peer.waitForFrame((text) => text.includes('room.join'));
		expect(JSON.parse(frame)).toEqual({
			name: 'room.join',
			data: { room: 'project:1', since: { offset: 12, epoch: 'e1' } }
		});
	});
});
