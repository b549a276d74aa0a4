// @vitest-environment jsdom
// Issue 19 in the runes layer: a room the server takes away (a `forbidden` naming a room the client
// holds) leaves `joinedRooms` and shows in `error`; a token refresh goes through a LiveSocket's client.
import { flushSync } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import type { AuthContext } from '../../../src/lib/client/socket-client.js';
import { track } from '../../kit/clients.js';
import { nextError, nextServerMessage, reachState } from '../../kit/wait.js';
import { TestServer } from '../../kit/servers/ws-server.js';
import { arrival, connectedLive, live, watch } from '../../kit/svelte/live.svelte.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

async function connected(options: Parameters<typeof live>[1] = {}) {
	const server = track(await TestServer.start());
	const socket = live(server.url, { heartbeatInterval: 0, ...options });
	socket.connect();
	await reachState(socket.client, 'connected');
	return { socket, server, peer: await server.connection(0) };
}

describe('LiveSocket: a room the server takes away', () => {
	it('leaves joinedRooms (a new Set) and shows the forbidden error in error', async () => {
		const { socket, peer } = await connected();
		const rooms = watch(() => socket.joinedRooms);
		const errors = watch(() => socket.error);
		socket.joinRoom('team:acme');
		socket.joinRoom('team:beta');
		for (const room of ['team:acme', 'team:beta']) {
			await peer.waitForFrame((frame) => frame.includes(`"${room}"`), `the join of ${room}`);
			const answered = nextServerMessage(socket.client, 'room.joined');
			peer.deliver('room.joined', { room, offset: 0, epoch: 'e1', recovered: true });
			await answered;
		}
		flushSync();

		const reported = nextError(socket.client, 'server');
		peer.deliver('error', {
			code: 'forbidden',
			message: 'No longer allowed in "team:acme"',
			room: 'team:acme'
		});
		await reported;
		flushSync();
		expect(rooms.seen.map((joined) => [...joined])).toEqual([
			[],
			['team:acme', 'team:beta'],
			['team:beta']
		]);
		expect(errors.seen.at(-1)?.code).toBe('forbidden');
		expect(errors.seen.at(-1)?.detail).toMatchObject({ room: 'team:acme' });
	});

	it('keeps joinedRooms as it was for a forbidden that answers a join', async () => {
		const { socket, peer } = await connected();
		const rooms = watch(() => socket.joinedRooms);
		socket.joinRoom('team:acme');
		await peer.waitForFrame((frame) => frame.includes('room.join'), 'the join');
		const reported = nextError(socket.client, 'server');
		peer.deliver('error', {
			code: 'forbidden',
			message: 'Not allowed to join "team:acme"',
			room: 'team:acme'
		});
		await reported;
		flushSync();
		expect(rooms.seen.map((joined) => [...joined])).toEqual([[], ['team:acme']]);
		expect(socket.error?.code).toBe('forbidden');
	});

	it('passes auth.refresh to its client: the getter hears refresh: true, the token goes out in place', async () => {
		const contexts: AuthContext[] = [];
		const { socket, server, peer } = await connected({
			auth: (context) => {
				contexts.push(context);
				return `token-${contexts.length}`;
			}
		});
		peer.deliver('auth.refresh', { expiresIn: 30_000 });
		await peer.waitForFrame((frame) => frame.includes('token-2'), 'the refreshed token');
		expect(contexts.map((context) => context.refresh)).toEqual([false, true]);
		expect(server.peers).toHaveLength(1);
		expect(socket.state).toBe('connected');
		expect(socket.error).toBeUndefined();
	});

	it("empties the presence of a room taken away (its changes stop coming), and only that room's", async () => {
		const { socket, frames, peer } = await connectedLive();
		const acme = socket.presence('team:acme');
		const beta = socket.presence('team:beta');
		const { seen } = watch(() => [[...acme.current.keys()], [...beta.current.keys()]]);
		for (const room of ['team:acme', 'team:beta']) {
			await peer.waitForFrame((frame) => frame.includes(`"${room}"`), `the join of ${room}`);
		}
		const members = [['ada', { data: {}, connections: 1 }]];
		const arrived = arrival(socket.client, 4);
		for (const room of ['team:acme', 'team:beta']) {
			peer.deliver('room.joined', { room, offset: 0, epoch: 'e1', recovered: true });
			peer.deliver('presence.state', { room, members });
		}
		await arrived;
		frames.run();
		const reported = nextError(socket.client, 'server');
		peer.deliver('error', {
			code: 'forbidden',
			message: 'No longer allowed in "team:acme"',
			room: 'team:acme'
		});
		await reported;
		frames.run();
		expect(seen).toEqual([
			[[], []],
			[['ada'], ['ada']],
			[[], ['ada']]
		]);
		expect([...socket.joinedRooms]).toEqual(['team:beta']);
	});
});
