// @vitest-environment jsdom
// Issue 20 in the runes layer: Collection.optimistic shows a change at once, marked pending, until
// its action settles: confirmed by the answer (or the server's message for the key), rolled back by
// a refusal.
import { isDeepStrictEqual } from 'node:util';
import { tick } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { ClientMessage, SocketError, Unrecoverable } from '../../../src/lib/index.js';
import type { Collection, LiveSocket } from '../../../src/lib/svelte/index.js';
import { deferred } from '../../kit/peers/ws-peer.js';
import type { ServerPeer } from '../../kit/servers/ws-server.js';
import Reader from '../../kit/svelte/components/Reader.svelte';
import { reachable } from '../../kit/svelte/gc.js';
import {
	arrival,
	connectedLive,
	destroy,
	live,
	render,
	watch,
	type Frames
} from '../../kit/svelte/live.svelte.js';
import { answer, receivedRequest, refuse } from '../../kit/svelte/optimistic.js';
import { startSocketServer } from '../../kit/servers/socket-server.js';
import { nextEvent, nextServerMessage, until } from '../../kit/wait.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

interface Incident {
	uuid: string;
	title: string;
	acked?: boolean;
}
const IncidentSaved = ClientMessage.define<Incident>('incident.saved');
const IncidentDeleted = ClientMessage.define<string>('incident.deleted');
const Ack = ClientMessage.define<{ uuid: string }>('incident.ack');

const A: Incident = { uuid: 'a', title: 'DB down' };
const B: Incident = { uuid: 'b', title: 'Disk full' };

const acked = (incident: Incident | undefined) => incident && { ...incident, acked: true };

/** A connected LiveSocket, its server peer, and a collection of A and B that an effect reads. */
async function incidents(): Promise<{
	socket: LiveSocket;
	frames: Frames;
	peer: ServerPeer;
	list: Collection<Incident, string>;
	values: Incident[][];
	pending: string[][];
}> {
	const { socket, frames, peer } = await connectedLive();
	const list = socket.collection(IncidentSaved, {
		key: (incident) => incident.uuid,
		remove: IncidentDeleted,
		removeKey: (uuid) => uuid,
		initial: [A, B]
	});
	const values = watch(() => list.values).seen;
	const pending: string[][] = [];
	watch(() => pending.push([...list.pending]));
	return { socket, frames, peer, list, values, pending };
}

/** Sends the server's messages and waits until the client has them. */
async function deliver(socket: LiveSocket, peer: ServerPeer, ...messages: [string, unknown][]) {
	const arrived = arrival(socket.client, messages.length);
	for (const [name, data] of messages) peer.deliver(name, data);
	await arrived;
}

describe('Collection.optimistic', () => {
	it('shows the change at once, pending, and a confirming answer keeps it without a new array', async () => {
		const { socket, frames, peer, list, values, pending } = await incidents();
		const action = socket.request(Ack, { uuid: 'a' });
		const returned = list.optimistic('a', acked, action);
		expect(returned).toBe(action);
		expect(list.values).toEqual([{ ...A, acked: true }, B]); // no frame needed
		expect([...list.pending]).toEqual(['a']);
		frames.run();
		const shown = list.values;

		answer(peer, (await receivedRequest(peer, 'incident.ack')).id, { ok: true });
		await returned;
		frames.run();
		expect(list.values).toBe(shown); // the confirmed item is the one shown
		expect(values).toEqual([[A, B], shown]);
		expect(pending).toEqual([[], ['a'], []]);
	});

	it("confirmed after the server's message for the key, shows the server's item", async () => {
		const { socket, frames, peer, list, values } = await incidents();
		const action = list.optimistic('a', { ...A, title: 'mine' }, socket.request(Ack, A));
		frames.run();
		await deliver(socket, peer, ['incident.saved', { ...A, title: 'theirs' }]);
		frames.run();
		expect(values).toHaveLength(2); // the server's item is under the pending change: no new array
		expect(list.values[0].title).toBe('mine');

		answer(peer, (await receivedRequest(peer, 'incident.ack')).id);
		await action;
		frames.run();
		expect(list.values).toEqual([{ ...A, title: 'theirs' }, B]);
		expect(list.pending.size).toBe(0);
	});

	it("rolls back to the server's item on a refusal, and the returned promise has the reason", async () => {
		const { socket, frames, peer, list, values, pending } = await incidents();
		const action = list.optimistic('a', acked, socket.request(Ack, A));
		refuse(peer, (await receivedRequest(peer, 'incident.ack')).id, 'conflict', 'Ada resolved it');
		const error = await action.catch((reason: unknown) => reason);
		expect(error).toBeInstanceOf(SocketError);
		expect(error).toMatchObject({ kind: 'server', code: 'conflict', message: 'Ada resolved it' });
		frames.run();
		expect(list.values[0]).toBe(A); // exactly the server's item, not a copy
		expect(values.map((shown) => shown[0].acked)).toEqual([undefined, true, undefined]);
		expect(pending).toEqual([[], ['a'], []]);
	});

	it('stacks changes of one key in order; each settles on its own', async () => {
		const { frames, list } = await incidents();
		const first = deferred();
		const second = deferred();
		const suffix = (text: string) => (incident: Incident | undefined) =>
			incident && { ...incident, title: `${incident.title}${text}` };
		list.optimistic('a', suffix(' 1'), first.promise);
		list.optimistic('a', suffix(' 2'), second.promise);
		expect(list.values[0].title).toBe('DB down 1 2');

		first.resolve();
		await first.promise;
		frames.run();
		expect(list.values[0].title).toBe('DB down 1 2');
		expect([...list.pending]).toEqual(['a']);

		second.reject(new Error('refused'));
		await second.promise.catch(() => {});
		frames.run();
		expect(list.values[0].title).toBe('DB down 1');
		expect(list.pending.size).toBe(0);
	});

	it('creates and removes: a refused create leaves nothing, a refused remove puts the item back in place', async () => {
		const { frames, list } = await incidents();
		const C: Incident = { uuid: 'c', title: 'New' };
		const create = deferred();
		const remove = deferred();
		void list.optimistic('c', C, create.promise).catch(() => {});
		void list.optimistic('a', null, remove.promise).catch(() => {});
		expect(list.values).toEqual([B, C]);
		expect([...list.pending]).toEqual(['c', 'a']);

		create.reject(new Error('no'));
		remove.reject(new Error('no'));
		await Promise.allSettled([create.promise, remove.promise]);
		frames.run();
		expect(list.values).toEqual([A, B]);
		expect(list.current.has('c')).toBe(false);

		const createAgain = deferred();
		const removeAgain = deferred();
		list.optimistic('c', C, createAgain.promise);
		list.optimistic('a', null, removeAgain.promise);
		createAgain.resolve();
		removeAgain.resolve();
		await Promise.all([createAgain.promise, removeAgain.promise]);
		frames.run();
		expect(list.values).toEqual([B, C]);
		expect(list.pending.size).toBe(0);
	});

	it('applies a function change again on a server update that comes while it is pending', async () => {
		const { socket, frames, peer, list } = await incidents();
		const action = list.optimistic('a', acked, socket.request(Ack, A));
		await deliver(socket, peer, ['incident.saved', { ...A, title: 'DB down (eu-west)' }]);
		frames.run();
		expect(list.values[0]).toEqual({ uuid: 'a', title: 'DB down (eu-west)', acked: true });

		// The server applies the ack and publishes it, then answers.
		await deliver(socket, peer, [
			'incident.saved',
			{ ...A, title: 'DB down (eu-west)', acked: true }
		]);
		answer(peer, (await receivedRequest(peer, 'incident.ack')).id);
		await action;
		frames.run();
		expect(list.values[0]).toEqual({ uuid: 'a', title: 'DB down (eu-west)', acked: true });
		expect(list.pending.size).toBe(0);
	});

	it('keeps pending changes on top of a replace() and of an unrecoverable room', async () => {
		const { socket, frames, peer } = await connectedLive();
		socket.joinRoom('incidents');
		const list = socket.collection(IncidentSaved, {
			key: (incident) => incident.uuid,
			room: 'incidents',
			initial: [A, B]
		});
		watch(() => list.values);
		const C: Incident = { uuid: 'c', title: 'New' };
		const actions = [deferred(), deferred()];
		list.optimistic('a', { ...A, title: 'mine' }, actions[0].promise);
		list.optimistic('c', C, actions[1].promise);

		list.replace([B, { ...A, title: 'reloaded' }]);
		expect(list.values).toEqual([B, { ...A, title: 'mine' }, C]);

		const unrecoverable = nextEvent(socket.client, Unrecoverable);
		peer.deliver('room.joined', { room: 'incidents', offset: 9, epoch: 'e2', recovered: false });
		await unrecoverable;
		frames.run();
		expect(list.values).toEqual([{ ...A, title: 'mine' }, C]);
		expect([...list.pending]).toEqual(['a', 'c']);

		list.replace([A]);
		actions[0].reject(new Error('no'));
		actions[1].resolve();
		await Promise.allSettled(actions.map(({ promise }) => promise));
		frames.run();
		expect(list.values).toEqual([A, C]);
	});

	it('cleans up a change whose action settles after its last reader left: nothing is kept', async () => {
		const { socket, frames } = await connectedLive();
		const lists = Array.from({ length: 50 }, () =>
			socket.collection(IncidentSaved, { key: (incident) => incident.uuid })
		);
		const actions = lists.map((list, n) => {
			destroy(render(Reader, { read: () => list.values }));
			const action = deferred();
			void list.optimistic(`${n}`, { uuid: `${n}`, title: 'x' }, action.promise).catch(() => {});
			return action;
		});
		await tick(); // the readers let go
		actions.forEach((action, n) => (n % 2 ? action.resolve() : action.reject(new Error('no'))));
		await Promise.allSettled(actions.map(({ promise }) => promise));
		frames.run();
		expect(lists.map((list) => list.pending.size)).toEqual(lists.map(() => 0));
		expect(lists.map((list) => list.values.length)).toEqual(lists.map((_, n) => n % 2));
		const refs = lists.splice(0).map((list) => new WeakRef(list));
		expect(await reachable(refs)).toBe(0);
	});
});

describe('two tabs of one user', () => {
	/** A real server keeping incidents: an ack is applied once, published to the room, then answered. */
	async function incidentServer() {
		const server = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
		const truth = new Map([A, B].map((incident) => [incident.uuid, incident]));
		server.sockets.on(Ack, async (_connection, { uuid }, reply) => {
			const incident = truth.get(uuid);
			if (!incident || incident.acked) return reply.error('conflict', `${uuid} was acked first`);
			truth.set(uuid, { ...incident, acked: true });
			await server.sockets.publish(IncidentSaved, truth.get(uuid)!, { room: 'incidents' });
			reply({ ok: true });
		});
		return { url: server.url(), truth };
	}

	/** A tab: its own LiveSocket in the room, and a collection an effect reads. */
	async function tab(url: string) {
		const socket = live(url, { schedule: (flush) => queueMicrotask(flush) });
		const list = socket.collection(IncidentSaved, {
			key: (incident) => incident.uuid,
			room: 'incidents',
			initial: [A, B]
		});
		watch(() => [list.values, list.pending]);
		const joined = nextServerMessage(socket.client, 'room.joined');
		socket.joinRoom('incidents');
		await joined;
		return { socket, list };
	}

	it('converge: a change confirmed in one and refused in the other, the message seen by both', async () => {
		const { url, truth } = await incidentServer();
		const [one, two] = [await tab(url), await tab(url)];
		await one.list.optimistic('a', acked, one.socket.request(Ack, { uuid: 'a' }));
		const refused = two.list.optimistic('a', acked, two.socket.request(Ack, { uuid: 'a' }));
		const both = [
			one.list.optimistic('b', acked, one.socket.request(Ack, { uuid: 'b' })),
			refused.catch((error: SocketError) => error.code)
		];
		expect((await Promise.all(both))[1]).toBe('conflict');

		const expected = [...truth.values()];
		expect(expected.every((incident) => incident.acked)).toBe(true);
		await until(
			() =>
				[one, two].every(
					({ list }) => isDeepStrictEqual(list.values, expected) && list.pending.size == 0
				),
			'both tabs to show what the server says'
		);
	});
});
