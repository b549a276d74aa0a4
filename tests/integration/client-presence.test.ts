import { describe, expect, it } from 'vitest';
import { ClientMessage, watchPresence, type PresenceMembers } from '../../src/lib/index.js';
import { makeClient, track } from '../kit/clients.js';
import { reachState, within } from '../kit/wait.js';
import { TestServer, type ServerPeer } from '../kit/servers/ws-server.js';

const ROOM = 'team:acme';

type Member = { name: string };

async function connected() {
	const server = track(await TestServer.start());
	const client = makeClient(server.url, { reconnectDelay: 10, maxReconnectDelay: 20 });
	client.connect();
	const peer = await server.connection(0);
	await reachState(client, 'connected');
	return { server, client, peer };
}

/** Collects every set of members `watchPresence` reports, and waits for the next one. */
function recorder() {
	const seen: PresenceMembers<Member>[] = [];
	let wake: (() => void) | undefined;
	return {
		seen,
		onChange: (members: PresenceMembers<Member>) => {
			seen.push(members);
			wake?.();
		},
		/** Resolves once `count` sets were reported. */
		async reported(count: number): Promise<PresenceMembers<Member>> {
			await within(
				(async () => {
					while (seen.length < count) await new Promise<void>((done) => (wake = done));
				})(),
				`${count} presence reports`
			);
			return seen[count - 1];
		}
	};
}

const names = (members: PresenceMembers<Member>) =>
	Object.fromEntries([...members].map(([id, entry]) => [id, [entry.data.name, entry.connections]]));

/** Resolves once the client handled a marker `peer` sent last: everything sent before has arrived. */
async function settled(peer: ServerPeer, client: ReturnType<typeof makeClient>): Promise<void> {
	const Marker = ClientMessage.define<null>('test.marker');
	const seen = new Promise<void>((resolve) => {
		const off = client.on(Marker, () => {
			off();
			resolve();
		});
	});
	peer.deliver('test.marker', null);
	await within(seen, 'the marker message');
}

describe('watchPresence', () => {
	it('joins the room, takes the whole set, then applies changes as they come', async () => {
		const { client, peer } = await connected();
		const presence = recorder();
		const watch = watchPresence<Member>(client, ROOM, presence.onChange);
		await peer.waitForFrame((text) => text.includes('"room.join"') && text.includes(ROOM));

		peer.deliver('presence.state', {
			room: ROOM,
			members: [['ada', { data: { name: 'Ada' }, connections: 2 }]]
		});
		expect(names(await presence.reported(1))).toEqual({ ada: ['Ada', 2] });

		peer.deliver('presence.diff', {
			room: ROOM,
			set: [
				['bob', { data: { name: 'Bob' }, connections: 1 }],
				['ada', { data: { name: 'Ada' }, connections: 1 }]
			],
			removed: []
		});
		expect(names(await presence.reported(2))).toEqual({ ada: ['Ada', 1], bob: ['Bob', 1] });

		peer.deliver('presence.diff', { room: ROOM, set: [], removed: ['ada'] });
		expect(names(await presence.reported(3))).toEqual({ bob: ['Bob', 1] });
		expect(watch.members).toBe(presence.seen[2]);
		// Every report is a new map: a reader comparing with === sees each change.
		expect(new Set(presence.seen).size).toBe(3);
	});

	it('ignores changes before the first state, other rooms and malformed messages', async () => {
		const { client, peer } = await connected();
		const presence = recorder();
		watchPresence<Member>(client, ROOM, presence.onChange);
		peer.deliver('presence.diff', {
			room: ROOM,
			set: [['early', { data: { name: 'Early' }, connections: 1 }]],
			removed: []
		});
		peer.deliver('presence.state', { room: 'team:other', members: [] });
		peer.deliver('presence.state', { room: ROOM, members: [['bad', { data: 1 }]] });
		peer.deliver('presence.state', { room: ROOM, members: [[1, { data: 1, connections: 1 }]] });
		// An object keyed by user id is not the wire's shape: a user called __proto__ would vanish.
		peer.deliver('presence.state', { room: ROOM, members: {} });
		await settled(peer, client);
		expect(presence.seen).toEqual([]);

		peer.deliver('presence.state', { room: ROOM, members: [] });
		expect((await presence.reported(1)).size).toBe(0);
		peer.deliver('presence.diff', { room: ROOM, set: 'nope', removed: [] });
		peer.deliver('presence.diff', { room: ROOM, set: [], removed: 'ada' });
		await settled(peer, client);
		expect(presence.seen).toHaveLength(1);
	});

	it('after a reconnect ignores changes until the rejoin brings the current set', async () => {
		const { server, client, peer } = await connected();
		const presence = recorder();
		watchPresence<Member>(client, ROOM, presence.onChange);
		peer.deliver('presence.state', {
			room: ROOM,
			members: [['ada', { data: { name: 'Ada' }, connections: 1 }]]
		});
		await presence.reported(1);

		peer.socket.terminate();
		const again = await server.connection(1);
		await again.waitForFrame((text) => text.includes('"room.join"') && text.includes(ROOM));
		await reachState(client, 'connected');
		again.deliver('presence.diff', { room: ROOM, set: [], removed: ['ada'] });
		await settled(again, client);
		expect(presence.seen).toHaveLength(1);

		again.deliver('presence.state', {
			room: ROOM,
			members: [['bob', { data: { name: 'Bob' }, connections: 1 }]]
		});
		expect(names(await presence.reported(2))).toEqual({ bob: ['Bob', 1] });
	});

	it('shows a user whose id is __proto__, in the state and in changes, polluting nothing', async () => {
		const { client, peer } = await connected();
		const presence = recorder();
		watchPresence<Member>(client, ROOM, presence.onChange);
		await peer.waitForFrame((text) => text.includes('"room.join"') && text.includes(ROOM));
		// Written as text: a JSON.stringify of an object literal would have no such key to write.
		const entry = (name: string, connections: number) =>
			`{"data":{"name":"${name}","__proto__":{"polluted":true}},"connections":${connections}}`;
		peer.send(
			`{"name":"presence.state","data":{"room":"${ROOM}","members":[["__proto__",${entry('Proto', 1)}],["ada",${entry('Ada', 1)}]]}}`
		);
		const state = await presence.reported(1);
		expect(names(state)).toEqual({ ['__proto__']: ['Proto', 1], ada: ['Ada', 1] });
		expect(Object.keys(state.get('__proto__')!.data)).toEqual(['name']);

		peer.send(
			`{"name":"presence.diff","data":{"room":"${ROOM}","set":[["__proto__",${entry('Proto', 2)}]],"removed":[]}}`
		);
		expect(names(await presence.reported(2))).toEqual({
			['__proto__']: ['Proto', 2],
			ada: ['Ada', 1]
		});
		peer.deliver('presence.diff', { room: ROOM, set: [], removed: ['__proto__'] });
		expect(names(await presence.reported(3))).toEqual({ ada: ['Ada', 1] });
		expect(({} as Record<string, unknown>).polluted).toBeUndefined();
	});

	it('asks for the set with refresh(), and leaves the room once stopped', async () => {
		const { client, peer } = await connected();
		const presence = recorder();
		const watch = watchPresence<Member>(client, ROOM, presence.onChange);
		watch.refresh();
		const asked = await peer.waitForFrame((text) => text.includes('"presence.get"'));
		expect(JSON.parse(asked)).toEqual({ name: 'presence.get', data: { room: ROOM } });

		watch.stop();
		await peer.waitForFrame((text) => text.includes('"room.leave"') && text.includes(ROOM));
		expect(client.joinedRooms).not.toContain(ROOM);
		peer.deliver('presence.state', { room: ROOM, members: [] });
		await settled(peer, client);
		expect(presence.seen).toEqual([]);
	});
});
