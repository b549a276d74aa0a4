// @vitest-environment jsdom
import fc from 'fast-check';
import { mount, tick, unmount } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Connected } from '../../../src/lib/index.js';
import { LiveSocket } from '../../../src/lib/svelte/index.js';
import { nextEvent, reachState, within } from '../../kit/wait.js';
import { TestServer, type ServerPeer } from '../../kit/servers/ws-server.js';
import Reader from '../../kit/svelte/components/Reader.svelte';
import { countListeners } from '../../kit/svelte/listeners.js';

// The real `ws` (not its browser stub) for the sockets and the test server.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

afterEach(() => {
	vi.restoreAllMocks();
});

const ROOM = 'project:1';
/** `SOAK=1` runs the long form. */
const RUNS = process.env.SOAK == '1' ? 1_000 : 100;

/** What the LiveSocket was told: the model its client's connection must follow. */
interface Model {
	readers: number;
	held: boolean;
	disposed: boolean;
	offline: boolean;
}

/** The LiveSocket under test, its server, the components reading it, and the page's listeners. */
interface Real {
	socket: LiveSocket;
	server: TestServer;
	views: Record<string, unknown>[];
	listening: () => number;
	/** What `navigator.onLine` says: the client reads it when it starts watching the page. */
	online: { value: boolean };
}

/** Whether the LiveSocket should have its client connected. */
const wanted = (model: Model) => !model.disposed && (model.held || model.readers > 0);

function joinsOf(peer: ServerPeer): number {
	return peer.frames.filter((frame) => frame.includes('room.join')).length;
}

/**
 * Waits until the connection settled where the model says it should, then checks it: wanted, one
 * connection open, the room joined once on it; not wanted, no socket and every connection closed;
 * disposed, not one listener left on the page.
 */
async function settled(model: Model, { socket, server, listening }: Real): Promise<void> {
	await tick(); // a reader that left lets go a microtask later
	const { client } = socket;
	if (wanted(model) && !model.offline) {
		await reachState(client, 'connected');
		const current = server.peers.at(-1)!;
		for (const peer of server.peers.slice(0, -1)) await within(peer.closed, 'an old connection');
		const open = server.peers.filter((peer) => peer.socket.readyState == peer.socket.OPEN);
		expect(open.length, 'connections open').toBe(1);
		expect(open[0] == current, 'the open connection is the newest').toBe(true);
		await current.waitForFrame((frame) => frame.includes('room.join'), 'the rejoin');
	} else {
		expect(client.connectionState).toBe('disconnected');
		expect(client.pausedBy).toBe(wanted(model) ? 'offline' : undefined);
		expect(client.socket).toBeNull();
		for (const peer of server.peers) await within(peer.closed, 'every connection to close');
	}
	// Read outside an effect, the fields are what the client says, reason included; no attempt is
	// under way once connected or let go of.
	expect([socket.state, socket.pausedBy]).toEqual([client.connectionState, client.pausedBy]);
	if (!wanted(model) || !model.offline) expect(socket.attempt).toBe(0);
	// A join that went out twice on one connection would show here, now or on a later check.
	expect(server.peers.map(joinsOf).filter((joins) => joins > 1)).toEqual([]);
	if (model.disposed) expect(listening()).toBe(0);
}

type Command = fc.AsyncCommand<Model, Real>;

const commands: fc.Arbitrary<Command>[] = [
	fc.constant<Command>({
		check: () => true,
		async run(model, real) {
			const read = () => real.socket.state;
			real.views.push(mount(Reader, { target: document.body, props: { read } }));
			model.readers++;
			await settled(model, real);
		},
		toString: () => 'read'
	}),
	fc.constant<Command>({
		check: (model) => model.readers > 0,
		async run(model, real) {
			await unmount(real.views.pop()!);
			model.readers--;
			await settled(model, real);
		},
		toString: () => 'unread'
	}),
	fc.constant<Command>({
		check: () => true,
		async run(model, real) {
			real.socket.connect();
			model.held = !model.disposed;
			await settled(model, real);
		},
		toString: () => 'connect'
	}),
	fc.constant<Command>({
		check: () => true,
		async run(model, real) {
			real.socket.disconnect();
			model.held = false;
			await settled(model, real);
		},
		toString: () => 'disconnect'
	}),
	fc.constant<Command>({
		check: (model) => wanted(model) && !model.offline,
		async run(model, real) {
			const back = nextEvent(real.socket.client, Connected);
			real.server.peers.at(-1)!.socket.terminate(); // no close frame: 1006 for the client
			await back;
			await settled(model, real);
		},
		toString: () => 'server drops the connection'
	}),
	fc.constant<Command>({
		check: (model) => !model.offline,
		async run(model, real) {
			real.online.value = false;
			window.dispatchEvent(new Event('offline'));
			model.offline = true;
			await settled(model, real);
		},
		toString: () => 'offline'
	}),
	fc.constant<Command>({
		check: (model) => model.offline,
		async run(model, real) {
			real.online.value = true;
			window.dispatchEvent(new Event('online'));
			model.offline = false;
			await settled(model, real);
		},
		toString: () => 'online'
	}),
	fc.constant<Command>({
		check: (model) => !model.disposed,
		async run(model, real) {
			real.socket.dispose();
			model.disposed = true;
			await settled(model, real);
		},
		toString: () => 'dispose'
	})
];

describe('LiveSocket lifecycle, model-based', () => {
	it('connects exactly while read or held and online (else says it is paused), one socket at a time, the room joined once per connection, nothing left after dispose()', async () => {
		await fc.assert(
			fc.asyncProperty(fc.commands(commands, { maxCommands: 12 }), async (run) => {
				const server = await TestServer.start();
				const listening = countListeners(window, document);
				const online = { value: true };
				vi.spyOn(window.navigator, 'onLine', 'get').mockImplementation(() => online.value);
				const socket = new LiveSocket(server.url, {
					WebSocket,
					window,
					document,
					reconnectDelay: 5,
					maxReconnectDelay: 20
				});
				socket.joinRoom(ROOM);
				const real: Real = { socket, server, views: [], listening, online };
				try {
					await fc.asyncModelRun(
						() => ({ model: { readers: 0, held: false, disposed: false, offline: false }, real }),
						run
					);
				} finally {
					for (const view of real.views) await unmount(view);
					socket.dispose();
					vi.restoreAllMocks();
					await server.stop();
				}
			}),
			{ numRuns: RUNS }
		);
	});
});
