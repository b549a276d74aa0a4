// @vitest-environment jsdom
import { once } from 'node:events';
import { flushSync, tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type WebSocket from 'ws';
import { z } from 'zod';
import {
	ClientMessage,
	Connected,
	ReconnectAttempt,
	type StandardSchema
} from '../../../src/lib/index.js';
import type { LiveSocket } from '../../../src/lib/svelte/index.js';
import { track } from '../../kit/clients.js';
import { nextError, nextEvent, reachState, until, within } from '../../kit/wait.js';
import { TestServer, type ServerPeer } from '../../kit/servers/ws-server.js';
import JoinRoom from '../../kit/svelte/components/JoinRoom.svelte';
import Moving from '../../kit/svelte/components/Moving.svelte';
import OwnSocket from '../../kit/svelte/components/OwnSocket.svelte';
import Reader from '../../kit/svelte/components/Reader.svelte';
import { countListeners } from '../../kit/svelte/listeners.js';
import {
	arrival,
	client,
	countHandlers,
	destroy,
	Frames,
	live,
	render,
	watch
} from '../../kit/svelte/live.svelte.js';

const Tick = ClientMessage.define('tick', z.object({ n: z.number() }));
const Removed = ClientMessage.define<{ n: number }>('removed');
const Ask = ClientMessage.define<{ q: string }>('ask');

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

afterEach(() => {
	vi.useRealTimers();
	vi.restoreAllMocks();
	vi.unstubAllGlobals();
});

/** Every timer the code under test could leave behind, animation frames included. */
const TIMERS = [
	'setTimeout',
	'clearTimeout',
	'setInterval',
	'clearInterval',
	'requestAnimationFrame',
	'cancelAnimationFrame'
] as const;

/**
 * Resolves once `socket` (a `ws` socket) is closed for good: `ws` keeps a timer of its own until
 * the closing handshake is over, which is not the LiveSocket's.
 */
async function closedForGood(socket: WebSocket): Promise<void> {
	if (socket.readyState != socket.CLOSED)
		await within(once(socket, 'close'), 'the socket to close');
}

/** A LiveSocket held open by connect(), its server and the server's side of the connection. */
async function connected(
	options: Parameters<typeof live>[1] = {}
): Promise<{ socket: LiveSocket; server: TestServer; peer: ServerPeer }> {
	const server = track(await TestServer.start());
	const socket = live(server.url, options);
	socket.connect();
	await reachState(socket.client, 'connected');
	return { socket, server, peer: await server.connection(0) };
}

/**
 * A message whose schema answers only once `release()` is called, and `validated`, which resolves
 * once every answer it gave has been handed on.
 */
function gatedMessage() {
	let release = () => {};
	const gate = new Promise<void>((resolve) => (release = resolve));
	const answers: Promise<{ value: number }>[] = [];
	const numberLater: StandardSchema<unknown, number> = {
		'~standard': {
			version: 1,
			vendor: 'test',
			validate: (value) => {
				const answer = gate.then(() => ({ value: value as number }));
				answers.push(answer);
				return answer;
			}
		}
	};
	const Gated = ClientMessage.define('gated', numberLater);
	// A macrotask after the answers: every microtask the client chained on them has run.
	const validated = async () => {
		await Promise.all(answers);
		await new Promise((resolve) => setTimeout(resolve, 0));
	};
	return { Gated, release, validated };
}

/** The frames `peer` received that are room joins or leaves, as `join a` / `leave a`. */
function roomFrames(peer: ServerPeer): string[] {
	return peer.messages.flatMap((message) => {
		const { name, data } = message as { name?: string; data?: { room?: string } };
		if (name == 'room.join') return [`join ${data?.room}`];
		if (name == 'room.leave') return [`leave ${data?.room}`];
		return [];
	});
}

describe('LiveSocket: the connection follows its readers', () => {
	it('connects for the first reader and disconnects one tick after the last one leaves', async () => {
		const server = track(await TestServer.start());
		const socket = live(server.url);
		const { seen: states, view } = watch(() => socket.state);
		expect(socket.client.connectionState).toBe('connecting');
		await reachState(socket.client, 'connected');
		flushSync();
		// Svelte runs an effect again when state it read was written during its run (the first
		// read starts connecting), hence the repeat.
		expect([...new Set(states)]).toEqual(['connecting', 'connected']);
		const peer = await server.connection(0);

		destroy(view);
		// createSubscriber lets go a microtask later, so a reader that moves keeps the socket.
		expect(socket.client.connectionState).toBe('connected');
		await tick();
		expect(socket.client.connectionState).toBe('disconnected');
		expect(await within(peer.closed, 'the server to see the close')).toMatchObject({ code: 1000 });
	});

	it('keeps one connection while a reader moves from one branch to another in an update', async () => {
		const server = track(await TestServer.start());
		const socket = live(server.url);
		const props = $state({ read: () => socket.isConnected, where: 'a' as 'a' | 'b' });
		render(Moving, props);
		await reachState(socket.client, 'connected');
		props.where = 'b';
		flushSync();
		expect(document.body.querySelector('div')?.textContent).toBe('true');
		await tick();
		expect(socket.client.connectionState).toBe('connected');
		expect(server.peers).toHaveLength(1);
	});

	it('counts every field and feed as a reader', async () => {
		const server = track(await TestServer.start());
		const socket = live(server.url);
		const reads: (() => unknown)[] = [
			() => socket.state,
			() => socket.isConnected,
			() => socket.attempt,
			() => socket.lastMessage,
			() => socket.joinedRooms,
			() => socket.error,
			() => socket.latest(Tick).current,
			() => socket.stream(Tick).current,
			() => socket.collection(Tick, { key: ({ n }) => n }).current,
			() => socket.collection(Tick, { key: ({ n }) => n }).values
		];
		for (const read of reads) {
			const view = render(Reader, { read });
			expect(socket.client.connectionState, String(read)).toBe('connecting');
			destroy(view);
			await tick();
			expect(socket.client.connectionState, String(read)).toBe('disconnected');
		}
	});

	it('does not connect, nor touch window or document, for reads outside an effect (as during SSR)', async () => {
		const windowListeners = vi.spyOn(window, 'addEventListener');
		const documentListeners = vi.spyOn(document, 'addEventListener');
		const socket = live('ws://127.0.0.1:9');
		void [socket.state, socket.isConnected, socket.attempt, socket.lastMessage, socket.joinedRooms];
		void [socket.error, socket.latest(Tick).current, socket.stream(Tick).current];
		void socket.collection(Tick, { key: ({ n }) => n }).values;
		await tick();
		expect(socket.client.connectionState).toBe('disconnected');
		expect(socket.client.socket).toBeNull();
		expect(windowListeners).not.toHaveBeenCalled();
		expect(documentListeners).not.toHaveBeenCalled();
	});

	it('connect() does nothing where there is no window (on the server)', async () => {
		const socket = live('ws://127.0.0.1:9');
		vi.stubGlobal('window', undefined);
		socket.connect();
		expect(socket.client.connectionState).toBe('disconnected');
		expect(socket.client.socket).toBeNull();
	});

	it('connect() holds the connection without readers; disconnect() releases it', async () => {
		const { socket, peer } = await connected();
		destroy(render(Reader, { read: () => socket.state }));
		await tick();
		expect(socket.client.connectionState).toBe('connected');

		const reader = render(Reader, { read: () => socket.state });
		socket.disconnect();
		await tick();
		expect(socket.client.connectionState).toBe('connected'); // the reader still holds it
		destroy(reader);
		await tick();
		expect(socket.client.connectionState).toBe('disconnected');
		expect(await within(peer.closed, 'the server to see the close')).toMatchObject({ code: 1000 });
	});

	it('disconnect() closes at once when nothing reads', async () => {
		const { socket, peer } = await connected();
		socket.disconnect();
		expect(socket.client.connectionState).toBe('disconnected');
		await within(peer.closed, 'the server to see the close');
	});
});

describe('LiveSocket: reactive fields', () => {
	it('state, isConnected and attempt follow a reconnect', async () => {
		const { socket, server, peer } = await connected({ reconnectDelay: 50 });
		const { seen } = watch(() => [socket.state, socket.isConnected, socket.attempt]);
		expect(seen).toEqual([['connected', true, 0]]);

		const attempt = nextEvent(socket.client, ReconnectAttempt);
		peer.socket.terminate();
		expect(await attempt).toMatchObject({ attempt: 1 });
		flushSync();
		expect(seen.at(-1)).toEqual(['reconnecting', false, 1]);
		expect(socket.attempt).toBe(1);

		await reachState(socket.client, 'connected');
		await server.connection(1);
		flushSync();
		expect(seen.at(-1)).toEqual(['connected', true, 0]);
	});

	it('attempt is 0 again once the deadline for rejoin answers passed, when the server never answers', async () => {
		const { socket, server, peer } = await connected();
		socket.joinRoom('project:7', { offset: 3, epoch: 'e1' });
		const { seen } = watch(() => [socket.state, socket.attempt]);
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const attempt = nextEvent(socket.client, ReconnectAttempt);
		peer.socket.terminate();
		vi.advanceTimersByTime((await attempt).delay);
		await (await server.connection(1)).waitForFrame((frame) => frame.includes('room.join'));
		await reachState(socket.client, 'connected');
		flushSync();
		expect(seen.at(-1)).toEqual(['connected', 1]); // the rejoin is not answered yet

		const announced = nextEvent(socket.client, Connected);
		vi.advanceTimersByTime(10_000); // the default requestTimeout: this server never answers
		expect(await announced).toEqual({ reconnected: true, recovered: false });
		flushSync();
		expect(seen.at(-1)).toEqual(['connected', 0]);
	});

	it('pausedBy tells a connection the page paused (offline, hidden) from a stopped one', async () => {
		const { socket, server } = await connected({ reconnectDelay: 5, maxReconnectDelay: 20 });
		const { seen, view } = watch(() => [socket.state, socket.pausedBy]);
		window.dispatchEvent(new Event('offline'));
		flushSync();
		expect(seen.at(-1)).toEqual(['disconnected', 'offline']);
		window.dispatchEvent(new Event('online'));
		await reachState(socket.client, 'connected');
		flushSync();
		expect(seen.at(-1)).toEqual(['connected', undefined]);

		// Hidden, an open connection stays; one that is lost waits until the page is shown again.
		const visibility = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden');
		document.dispatchEvent(new Event('visibilitychange'));
		(await server.connection(1)).socket.terminate();
		await until(() => socket.pausedBy == 'hidden', 'a pause while hidden');
		expect(socket.state).toBe('disconnected');
		visibility.mockReturnValue('visible');
		document.dispatchEvent(new Event('visibilitychange'));
		await reachState(socket.client, 'connected');

		// Stopped while paused: no reason any more, whoever reads.
		window.dispatchEvent(new Event('offline'));
		expect(socket.pausedBy).toBe('offline');
		destroy(view);
		socket.disconnect();
		await tick();
		expect([socket.state, socket.pausedBy]).toEqual(['disconnected', undefined]);
	});

	it('lastMessage is the newest inbound message, published once per flush', async () => {
		const frames = new Frames();
		const { socket, peer } = await connected({ schedule: frames.schedule });
		const { seen } = watch(() => socket.lastMessage?.data);
		const arrived = arrival(socket.client, 3);
		peer.deliver('tick', { n: 1 });
		peer.deliver('other', 'x');
		peer.deliver('tick', { n: 2 }, { room: 'r' });
		await arrived;
		expect(socket.lastMessage).toBeUndefined();
		expect(frames.pending).toBe(1);
		frames.run();
		expect(seen).toEqual([undefined, { n: 2 }]);
		expect(socket.lastMessage).toMatchObject({ name: 'tick', data: { n: 2 }, room: 'r' });
	});

	it('error is the newest error the client reported', async () => {
		const { socket, peer } = await connected();
		const { seen } = watch(() => socket.error);
		const reported = nextError(socket.client, 'malformed');
		peer.send('not json');
		await reported;
		flushSync();
		expect(seen.map((error) => error?.kind)).toEqual([undefined, 'malformed']);

		const invalid = nextError(socket.client, 'validation');
		render(Reader, { read: () => socket.latest(Tick).current });
		peer.deliver('tick', { n: 'one' });
		await invalid;
		flushSync();
		expect(socket.error?.kind).toBe('validation');
	});

	it('joinedRooms is a new Set whenever membership changes, and joins reach the server', async () => {
		const { socket, peer } = await connected();
		const { seen } = watch(() => socket.joinedRooms);

		const leaveA = socket.joinRoom('a');
		flushSync();
		expect(seen.map((rooms) => [...rooms])).toEqual([[], ['a']]);
		const leaveAgain = socket.joinRoom('a'); // a second holder: membership unchanged
		socket.joinRoom('b');
		flushSync();
		expect(seen.map((rooms) => [...rooms])).toEqual([[], ['a'], ['a', 'b']]);

		leaveAgain();
		flushSync();
		expect(seen).toHaveLength(3);
		leaveA();
		leaveA(); // leaving twice leaves once
		flushSync();
		expect([...socket.joinedRooms]).toEqual(['b']);
		socket.joinRoom('c');
		flushSync();
		socket.leaveRoom('c'); // by name, as client.leaveRoom
		socket.leaveRoom('c'); // no hold left: nothing
		flushSync();
		expect([...socket.joinedRooms]).toEqual(['b']);
		socket.clearRooms();
		flushSync();
		expect(seen.map((rooms) => [...rooms])).toEqual([
			[],
			['a'],
			['a', 'b'],
			['b'],
			['b', 'c'],
			['b'],
			[]
		]);
		expect(new Set(seen).size).toBe(seen.length);

		await peer.waitForFrame(
			(frame) => frame.includes('room.leave') && frame.includes('"c"'),
			'the leave of c'
		);
		expect(roomFrames(peer)).toEqual(['join a', 'join b', 'leave a', 'join c', 'leave c']);
	});

	it('a room joined while a component initialises is left when it is destroyed', async () => {
		const { socket, peer } = await connected();
		const outside = socket.joinRoom('account:1');
		const view = render(JoinRoom, { socket, room: 'project:7' });
		expect([...socket.joinedRooms]).toEqual(['account:1', 'project:7']);
		destroy(view);
		flushSync();
		expect([...socket.joinedRooms]).toEqual(['account:1']);
		await peer.waitForFrame((frame) => frame.includes('room.leave'), 'the leave of project:7');
		expect(roomFrames(peer)).toEqual(['join account:1', 'join project:7', 'leave project:7']);
		outside();
		expect(socket.joinedRooms.size).toBe(0);
	});
});

describe('LiveSocket: sending', () => {
	it('emit, send, sendRaw and request pass through to the client', async () => {
		const { socket, peer } = await connected();
		socket.emit(Ask, { q: 'emitted' });
		socket.send('raw', 2);
		socket.sendRaw('bare token');
		const answer = socket.request<{ a: number }>(Ask, { q: 'asked' }, { timeout: 5_000 });
		const frame = await peer.waitForFrame((text) => text.includes('asked'), 'the request');
		const { id } = JSON.parse(frame) as { id: number };
		peer.deliver('reply', { a: 42 }, { id });
		expect(await within(answer, 'the reply')).toEqual({ a: 42 });
		expect(peer.messages).toEqual([
			{ name: 'ask', data: { q: 'emitted' } },
			{ name: 'raw', data: 2 },
			'bare token',
			{ name: 'ask', data: { q: 'asked' }, id }
		]);
		socket.disconnect();
		expect(() => socket.sendRaw('late')).toThrow(/Not connected/);
	});
});

describe('LiveSocket: cleanup', () => {
	it('leaves no client handler behind once its readers are gone, and none after dispose()', async () => {
		const server = track(await TestServer.start());
		const given = client(server.url);
		const handlers = countHandlers(given);
		const socket = live(given);
		const own = handlers(); // state, attempt (2), unrecoverable, error, lastMessage
		expect(own).toBe(6);

		const latest = socket.latest(Tick);
		const stream = socket.stream(Tick);
		const collection = socket.collection(Tick, { key: ({ n }) => n, remove: Removed });
		const views = [
			render(Reader, { read: () => latest.current }),
			render(Reader, { read: () => stream.current }),
			render(Reader, { read: () => collection.values }),
			render(Reader, { read: () => socket.state })
		];
		expect(handlers()).toBe(own + 2); // one per definition (Tick, Removed), however many feeds
		await reachState(given, 'connected');
		const peer = await server.connection(0);

		for (const view of views) destroy(view);
		await tick();
		expect(handlers()).toBe(own);
		await within(peer.closed, 'the server to see the close');

		socket.dispose();
		expect(handlers()).toBe(0);
	});

	it('dispose() removes the handlers of feeds still read, and closes and disposes its own client', async () => {
		const server = track(await TestServer.start());
		const socket = live(server.url);
		const stream = socket.stream(Tick);
		render(Reader, { read: () => stream.current });
		await reachState(socket.client, 'connected');
		const peer = await server.connection(0);

		socket.dispose();
		expect(socket.client.socket).toBeNull();
		expect(socket.client.connectionState).toBe('disconnected');
		expect(() => socket.client.connect()).toThrow(/dispose/);
		expect(await within(peer.closed, 'the server to see the close')).toMatchObject({ code: 1000 });
		socket.connect(); // after dispose(): nothing
		expect(socket.client.connectionState).toBe('disconnected');
	});

	it('dispose() disconnects a given client it connected, but leaves it usable', async () => {
		const server = track(await TestServer.start());
		const given = client(server.url);
		const socket = live(given);
		socket.connect();
		await reachState(given, 'connected');
		const peer = await server.connection(0);
		socket.dispose();
		expect(given.connectionState).toBe('disconnected');
		await within(peer.closed, 'the server to see the close');
		given.connect();
		await reachState(given, 'connected');
	});
	it('dispose() leaves no timer, listener or socket: connected, read, with a frame waiting', async () => {
		vi.useFakeTimers({ toFake: [...TIMERS] });
		const listening = countListeners(window, document);
		const server = track(await TestServer.start());
		const socket = live(server.url); // the default schedule: the next animation frame
		const stream = socket.stream(Tick);
		render(Reader, { read: () => [socket.state, stream.current] });
		await reachState(socket.client, 'connected');
		const peer = await server.connection(0);
		const arrived = arrival(socket.client, 1);
		peer.deliver('tick', { n: 1 });
		await arrived;
		const raw = socket.client.socket as WebSocket;
		expect(vi.getTimerCount()).toBe(2); // the heartbeat and the frame
		expect(listening()).toBeGreaterThan(0);

		socket.dispose();
		expect(socket.client.socket).toBeNull();
		expect(listening()).toBe(0);
		await closedForGood(raw);
		await within(peer.closed, 'the server to see the close');
		expect(vi.getTimerCount()).toBe(0);
	});

	it('dispose() leaves no timer, listener or socket: waiting to reconnect', async () => {
		vi.useFakeTimers({ toFake: [...TIMERS] });
		const listening = countListeners(window, document);
		const { socket, peer } = await connected();
		const waiting = nextEvent(socket.client, ReconnectAttempt);
		peer.socket.terminate();
		await waiting;
		expect(vi.getTimerCount()).toBe(1); // the reconnect
		socket.dispose();
		expect(vi.getTimerCount()).toBe(0);
		expect(listening()).toBe(0);
		expect(socket.client.socket).toBeNull();
	});

	it('dispose() lets no feed publish a message whose async schema answers after it', async () => {
		const server = track(await TestServer.start());
		const frames = new Frames();
		const socket = live(server.url, { schedule: frames.schedule });
		const { Gated, release, validated } = gatedMessage();
		const latest = socket.latest(Gated);
		const stream = socket.stream(Gated);
		const collection = socket.collection(Gated, { key: (n) => n });
		const { seen } = watch(() => [latest.current, stream.current, collection.values]);
		await reachState(socket.client, 'connected');
		const arrived = arrival(socket.client, 1);
		(await server.connection(0)).deliver('gated', 1);
		await arrived;

		socket.dispose();
		release();
		await validated();
		frames.run(); // the flush asked for on arrival, and any asked for since
		expect(seen).toEqual([[undefined, [], []]]);
	});

	it('dispose() ends the presence it watches on a given client: no handler, no room, no publish', async () => {
		const server = track(await TestServer.start());
		const given = client(server.url, { reconnectDelay: 1 });
		const handlers = countHandlers(given);
		const frames = new Frames();
		const socket = live(given, { schedule: frames.schedule });
		const viewers = socket.presence('team:acme');
		const { seen } = watch(() => viewers.current.size);
		const peer = await server.connection(0);
		await peer.waitForFrame((frame) => frame.includes('team:acme'), 'the join');

		socket.dispose();
		expect(handlers()).toBe(0);
		expect(given.joinedRooms).toEqual(new Set());
		// The owner of the client goes on with it: nothing of the LiveSocket's comes back.
		given.connect();
		const again = await server.connection(1);
		const arrived = arrival(given, 1);
		again.deliver('presence.state', {
			room: 'team:acme',
			members: [['ada', { data: {}, connections: 1 }]]
		});
		await arrived;
		expect(again.frames.filter((frame) => frame.includes('room.join'))).toEqual([]);
		expect(frames.pending).toBe(0);
		expect(seen).toEqual([0]);
	});

	it('a LiveSocket made while a component initialises is disposed with the component', async () => {
		const listening = countListeners(window, document);
		const server = track(await TestServer.start());
		let made: LiveSocket | undefined;
		const view = render(OwnSocket, { url: server.url, onsocket: (socket) => (made = socket) });
		await reachState(made!.client, 'connected');
		const peer = await server.connection(0);
		expect(listening()).toBeGreaterThan(0);

		destroy(view);
		expect(made!.client.socket).toBeNull();
		expect(listening()).toBe(0);
		expect(() => made!.client.connect()).toThrow(/dispose/);
		expect(await within(peer.closed, 'the server to see the close')).toMatchObject({ code: 1000 });
	});
});
