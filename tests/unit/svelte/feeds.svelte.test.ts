// @vitest-environment jsdom
import { tick } from 'svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { ClientMessage } from '../../../src/lib/index.js';
import type { LiveSocket } from '../../../src/lib/svelte/index.js';
import { track } from '../../kit/clients.js';
import { reachState } from '../../kit/wait.js';
import { TestServer, type ServerPeer } from '../../kit/servers/ws-server.js';
import Reader from '../../kit/svelte/components/Reader.svelte';
import StreamList from '../../kit/svelte/components/StreamList.svelte';
import {
	arrival,
	connectedLive,
	destroy,
	Frames,
	live,
	render,
	watch
} from '../../kit/svelte/live.svelte.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

afterEach(() => {
	vi.restoreAllMocks();
});

const Tick = ClientMessage.define('tick', z.object({ n: z.number() }));

interface Incident {
	uuid: string;
	title: string;
}
const IncidentSaved = ClientMessage.define<Incident>('incident.saved');
const IncidentResolved = ClientMessage.define<{ uuid: string; resolvedAt: number }>(
	'incident.resolved'
);
const IncidentDeleted = ClientMessage.define<string>('incident.deleted');

/** Sends `messages` as envelopes and waits until the client received them all. */
async function deliver(socket: LiveSocket, peer: ServerPeer, ...messages: [string, unknown][]) {
	const arrived = arrival(socket.client, messages.length);
	for (const [name, data] of messages) peer.deliver(name, data);
	await arrived;
}

describe('latest', () => {
	it('is the newest valid message of its kind, published once per flush', async () => {
		const { socket, frames, peer } = await connectedLive();
		const latest = socket.latest(Tick);
		const { seen } = watch(() => latest.current);
		const errors: unknown[] = [];
		socket.client.onError((error) => errors.push(error));
		await deliver(
			socket,
			peer,
			['tick', { n: 1 }],
			['other', { n: 5 }],
			['tick', { n: 2 }],
			['tick', { n: 'three' }]
		);
		expect(latest.current).toBeUndefined(); // not before the flush
		expect(errors).toEqual([]); // nor validated
		expect(frames.pending).toBe(1);
		frames.run();
		expect(seen).toEqual([undefined, { n: 2 }]);
		expect(errors).toMatchObject([{ kind: 'validation' }]);
	});

	it('keeps its value between readers and listens only while read', async () => {
		const server = track(await TestServer.start());
		const frames = new Frames();
		const socket = live(server.url, { schedule: frames.schedule });
		const latest = socket.latest(Tick);
		const first = render(Reader, { read: () => latest.current });
		await reachState(socket.client, 'connected');
		const peer = await server.connection(0);
		await deliver(socket, peer, ['tick', { n: 1 }]);
		frames.run();
		destroy(first);
		await tick();

		socket.connect(); // connected, but nothing reads `latest`: its handler is gone
		await reachState(socket.client, 'connected');
		const again = await server.connection(1);
		await deliver(socket, again, ['tick', { n: 2 }]);
		frames.run();
		expect(watch(() => latest.current).seen).toEqual([{ n: 1 }]);
	});
});

describe('stream', () => {
	it('holds the newest messages first, trimmed to the limit, in a new array per flush', async () => {
		const { socket, frames, peer } = await connectedLive();
		const stream = socket.stream(Tick, { limit: 3 });
		const { seen } = watch(() => stream.current);
		await deliver(socket, peer, ['tick', { n: 1 }], ['tick', { n: 2 }]);
		frames.run();
		const first = stream.current;
		expect(first).toEqual([{ n: 2 }, { n: 1 }]);

		await deliver(socket, peer, ['tick', { n: 3 }], ['tick', { n: 4 }], ['tick', { n: 5 }]);
		frames.run();
		expect(stream.current).toEqual([{ n: 5 }, { n: 4 }, { n: 3 }]);
		expect(first).toEqual([{ n: 2 }, { n: 1 }]); // a published array is never changed
		expect(seen).toEqual([[], first, stream.current]);
	});

	it('keeps its items between readers', async () => {
		const { socket, frames, peer } = await connectedLive();
		const stream = socket.stream(Tick);
		const reader = render(Reader, { read: () => stream.current });
		await deliver(socket, peer, ['tick', { n: 1 }]);
		frames.run();
		destroy(reader);
		await tick();
		expect(watch(() => stream.current).seen).toEqual([[{ n: 1 }]]);
	});

	it('keeps 50 by default and refuses a limit below 1', async () => {
		const { socket, frames, peer } = await connectedLive();
		const ticks = socket.stream(Tick);
		watch(() => ticks.current);
		await deliver(
			socket,
			peer,
			...Array.from({ length: 60 }, (_, n): [string, unknown] => ['tick', { n }])
		);
		frames.run();
		expect(ticks.current).toHaveLength(50);
		expect(ticks.current[0]).toEqual({ n: 59 });
		expect(() => socket.stream(Tick, { limit: 0 })).toThrow(/limit/);
		expect(() => socket.stream(Tick, { limit: 2.5 })).toThrow(/limit/);
	});

	it('renders a burst of 1,000 messages in one frame once', async () => {
		const server = track(await TestServer.start());
		const frames = new Frames();
		const socket = live(server.url, { schedule: frames.schedule });
		const ticks = socket.stream(Tick, { limit: 100 });
		let renders = 0;
		render(StreamList, { stream: ticks, onrender: () => renders++ });
		await reachState(socket.client, 'connected');
		const peer = await server.connection(0);
		renders = 0;

		const arrived = arrival(socket.client, 1_000);
		for (let n = 0; n < 1_000; n++) peer.deliver('tick', { n });
		await arrived;
		await tick();
		expect(renders).toBe(0); // all arrived, none shown before the frame
		frames.run();
		console.log(`renders for 1000 messages in one frame: ${renders}`);
		expect(renders).toBe(1);
		const items = [...document.querySelectorAll('li')].map((item) => item.textContent);
		expect(items).toHaveLength(100);
		expect(items.slice(0, 2)).toEqual(['999', '998']);
	});

	it('by default waits for an animation frame: one per burst', async () => {
		const waiting: FrameRequestCallback[] = [];
		const frame = vi
			.spyOn(window, 'requestAnimationFrame')
			.mockImplementation((callback) => waiting.push(callback));
		const server = track(await TestServer.start());
		const socket = live(server.url);
		const ticks = socket.stream(Tick, { limit: 10 });
		let renders = 0;
		render(StreamList, { stream: ticks, onrender: () => renders++ });
		await reachState(socket.client, 'connected');
		const peer = await server.connection(0);
		renders = 0;

		await deliver(
			socket,
			peer,
			...Array.from({ length: 1_000 }, (_, n): [string, unknown] => ['tick', { n }])
		);
		expect(frame).toHaveBeenCalledTimes(1);
		expect(renders).toBe(0);
		waiting.splice(0).forEach((callback) => callback(performance.now()));
		await tick();
		expect(renders).toBe(1);
		expect(ticks.current[0]).toEqual({ n: 999 });
	});
});

describe('collection', () => {
	it('adds items by key, replaces an existing key in place, and removes by removeKey', async () => {
		const { socket, frames, peer } = await connectedLive();
		const incidents = socket.collection(IncidentSaved, {
			key: (incident) => incident.uuid,
			remove: IncidentDeleted,
			removeKey: (uuid) => uuid
		});
		const { seen } = watch(() => incidents.current);
		await deliver(
			socket,
			peer,
			['incident.saved', { uuid: 'a', title: 'DB down' }],
			['incident.saved', { uuid: 'b', title: 'Disk full' }],
			['incident.saved', { uuid: 'a', title: 'DB down again' }]
		);
		frames.run();
		const first = incidents.current;
		expect([...first.keys()]).toEqual(['a', 'b']);
		expect(incidents.values.map(({ title }) => title)).toEqual(['DB down again', 'Disk full']);

		await deliver(socket, peer, ['incident.deleted', 'a']);
		frames.run();
		expect(incidents.values).toEqual([{ uuid: 'b', title: 'Disk full' }]);
		expect([...first.keys()]).toEqual(['a', 'b']); // a published Map is never changed
		expect(seen).toHaveLength(3);

		await deliver(socket, peer, ['incident.deleted', 'unknown']);
		expect(frames.pending).toBe(1); // lastMessage's flush: the collection has nothing new
		frames.run();
		expect(seen).toHaveLength(3);
	});

	it('without removeKey keys the removal data with key', async () => {
		const { socket, frames, peer } = await connectedLive();
		const incidents = socket.collection(IncidentSaved, {
			key: (incident) => incident.uuid,
			remove: IncidentResolved,
			initial: [{ uuid: 'a', title: 'DB down' }]
		});
		watch(() => incidents.values);
		await deliver(socket, peer, ['incident.resolved', { uuid: 'a', resolvedAt: 1 }]);
		frames.run();
		expect(incidents.current.size).toBe(0);
	});

	it('starts from initial, and replace() and clear() show at once, under the messages still waiting', async () => {
		const { socket, frames, peer } = await connectedLive();
		const incidents = socket.collection(IncidentSaved, {
			key: (incident) => incident.uuid,
			initial: [
				{ uuid: 'a', title: 'one' },
				{ uuid: 'b', title: 'two' }
			]
		});
		expect([...incidents.current.keys()]).toEqual(['a', 'b']);
		const { seen } = watch(() => incidents.values);
		await deliver(socket, peer, ['incident.saved', { uuid: 'c', title: 'three' }]);

		incidents.replace([{ uuid: 'z', title: 'reloaded' }]);
		expect(incidents.values).toEqual([{ uuid: 'z', title: 'reloaded' }]);
		// The message waited for the flush: it is handed on after the replace, as anything arriving
		// while the page reloaded would be.
		frames.run();
		expect(seen).toEqual([
			[
				{ uuid: 'a', title: 'one' },
				{ uuid: 'b', title: 'two' }
			],
			[
				{ uuid: 'z', title: 'reloaded' },
				{ uuid: 'c', title: 'three' }
			]
		]);
		incidents.clear();
		expect(incidents.current.size).toBe(0);
		expect(incidents.values).toEqual([]);
	});
});
