// @vitest-environment jsdom
// Issue 20: a LiveSocket's outbox. Made at once from the `outbox` option (so a reloaded page's
// entries go as soon as the connection opens), or on first read; disposed with the LiveSocket. With
// Collection.optimistic, an action made offline shows at once, pending, and is applied once.
import { describe, expect, it, vi } from 'vitest';
import { ClientMessage, Outbox, SocketError } from '../../../src/lib/index.js';
import { MemoryStorage } from '../../kit/outbox.js';
import { startSocketServer } from '../../kit/servers/socket-server.js';
import { live, watch } from '../../kit/svelte/live.svelte.js';
import { reachState, until, within } from '../../kit/wait.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

interface Incident {
	uuid: string;
	title: string;
}
const IncidentSaved = ClientMessage.define<Incident>('incident.saved');
const Open = ClientMessage.define<Incident>('incident.open');

/** A server that applies each `incident.open` (counted), publishes it to the room, then answers. */
async function incidentServer() {
	const server = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
	const applied: Incident[] = [];
	server.sockets.on(Open, async (_connection, incident, reply) => {
		applied.push(incident);
		await server.sockets.publish(IncidentSaved, incident, { room: 'incidents' });
		reply({ ok: true });
	});
	return { url: server.url(), applied };
}

describe('LiveSocket.outbox', () => {
	it("is one Outbox on the LiveSocket's client, made on first read without the option", () => {
		const socket = live('ws://127.0.0.1:9');
		expect(socket.outbox).toBeInstanceOf(Outbox);
		expect(socket.outbox).toBe(socket.outbox);
	});

	it('is disposed with the LiveSocket: what waits rejects with closed, and the storage keeps it', async () => {
		const storage = new MemoryStorage();
		const socket = live('ws://127.0.0.1:9', { outbox: { storage } });
		const waiting = socket.outbox.request(Open, { uuid: 'a', title: 'DB down' });
		expect(socket.outbox.entries).toHaveLength(1);
		socket.dispose();
		await expect(waiting).rejects.toMatchObject({ kind: 'closed' });
		expect(storage.items.get('runesocket:outbox')).toContain('DB down');

		const late = live('ws://127.0.0.1:9');
		late.dispose();
		await expect(late.outbox.request(Open, { uuid: 'b', title: 'x' })).rejects.toThrow();
	});

	it('sends what a reloaded page left in storage once connected: applied once', async () => {
		const { url, applied } = await incidentServer();
		const storage = new MemoryStorage();
		const before = live(url, { outbox: { storage } });
		void before.outbox.request(Open, { uuid: 'a', title: 'DB down' }).catch(() => {});
		before.dispose(); // the tab reloads before it ever connected

		const after = live(url, { outbox: { storage } });
		const [restored] = after.outbox.entries;
		expect(restored).toMatchObject({ name: 'incident.open', kind: 'request' });
		after.connect();
		await within(restored.settled, 'the restored request to be answered');
		expect(applied).toEqual([{ uuid: 'a', title: 'DB down' }]);
		expect(after.outbox.entries).toEqual([]);
	});

	it('with optimistic: made offline it shows at once, pending; once connected it is applied once and confirmed', async () => {
		const { url, applied } = await incidentServer();
		const socket = live(url, { schedule: (flush) => queueMicrotask(flush) });
		const incidents = socket.collection(IncidentSaved, {
			key: (incident) => incident.uuid,
			room: 'incidents'
		});
		const draft = { uuid: 'a', title: 'DB down' };
		const action = incidents.optimistic('a', draft, socket.outbox.request(Open, draft));
		expect(socket.client.connectionState).toBe('disconnected');
		expect(incidents.values).toEqual([draft]);
		expect([...incidents.pending]).toEqual(['a']);

		socket.joinRoom('incidents');
		watch(() => [incidents.values, incidents.pending]); // reading connects
		await reachState(socket.client, 'connected');
		await within(action, 'the request to be answered');
		await until(() => incidents.pending.size == 0, 'the change to be confirmed');
		expect(incidents.values).toEqual([draft]);
		expect(applied).toEqual([draft]);
	});

	it('rolls an optimistic change back with the refusal that ends its outbox request', async () => {
		const server = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
		server.sockets.on(Open, (_connection, _incident, reply) => reply.error('conflict', 'Taken'));
		const socket = live(server.url(), { schedule: (flush) => queueMicrotask(flush) });
		const incidents = socket.collection(IncidentSaved, { key: (incident) => incident.uuid });
		watch(() => incidents.values);
		const draft = { uuid: 'a', title: 'DB down' };
		const refused = await incidents
			.optimistic('a', draft, socket.outbox.request(Open, draft))
			.catch((error: unknown) => error);
		expect(refused).toBeInstanceOf(SocketError);
		expect(refused).toMatchObject({ code: 'conflict', message: 'Taken' });
		await until(() => incidents.values.length == 0, 'the rollback');
	});
});
