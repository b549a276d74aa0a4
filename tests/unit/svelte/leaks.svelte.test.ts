// @vitest-environment jsdom
import { tick } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { ClientMessage } from '../../../src/lib/index.js';
import type { LiveSocket } from '../../../src/lib/svelte/index.js';
import OwnSocket from '../../kit/svelte/components/OwnSocket.svelte';
import Reader from '../../kit/svelte/components/Reader.svelte';
import { reachable } from '../../kit/svelte/gc.js';
import { track } from '../../kit/clients.js';
import { reachState } from '../../kit/wait.js';
import { TestServer } from '../../kit/servers/ws-server.js';
import { connectedLive, destroy, render } from '../../kit/svelte/live.svelte.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

const Tick = ClientMessage.define<{ n: number }>('tick');
const Removed = ClientMessage.define<{ n: number }>('removed');
const FEEDS = 200;

/** One feed of each kind, weakly held; with `read`, a component reads all three, then goes. */
function makeFeeds(socket: LiveSocket, read: boolean): WeakRef<object>[] {
	const latest = socket.latest(Tick, { room: 'a' });
	const stream = socket.stream(Tick);
	const collection = socket.collection(Tick, { key: ({ n }) => n, remove: Removed, room: 'a' });
	if (read) {
		destroy(render(Reader, { read: () => [latest.current, stream.current, collection.values] }));
	}
	return [new WeakRef(latest), new WeakRef(stream), new WeakRef(collection)];
}

describe('feeds outlive nothing', () => {
	it(`${FEEDS} of each kind, read and dropped or never read, are all collected while the LiveSocket lives`, async () => {
		const { socket } = await connectedLive();
		const control = Array.from({ length: FEEDS }, () => new WeakRef({}));
		const read = Array.from({ length: FEEDS }, () => makeFeeds(socket, true)).flat();
		const unread = Array.from({ length: FEEDS }, () => makeFeeds(socket, false)).flat();
		await tick(); // the last reader lets go a microtask after it is destroyed

		expect(await reachable(control), 'plain objects (does GC run?)').toBe(0);
		const left = { read: await reachable(read), unread: await reachable(unread) };
		console.log(`feeds still reachable after GC, of ${3 * FEEDS} each:`, left);
		expect(left).toEqual({ read: 0, unread: 0 });
		expect(socket.client.connectionState).toBe('connected'); // held by connect() throughout
	});

	it('a LiveSocket a component made, connected and never disposed by hand, is collected with it', async () => {
		const server = track(await TestServer.start());
		const made: WeakRef<LiveSocket>[] = [];
		for (let n = 0; n < 10; n++) {
			let socket: LiveSocket | undefined;
			const view = render(OwnSocket, { url: server.url, onsocket: (own) => (socket = own) });
			await reachState(socket!.client, 'connected');
			made.push(new WeakRef(socket!));
			destroy(view);
		}
		await tick();
		expect(await reachable(made)).toBe(0);
	});
});
