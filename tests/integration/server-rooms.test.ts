import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { ClientMessage, Connected, SocketError, type InboundMessage } from '../../src/lib/index.js';
import {
	defineRoute,
	type Connection,
	type SocketServerOptions
} from '../../src/lib/server/index.js';
import { makeClient } from '../kit/clients.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { nextEvent, reachState, within } from '../kit/wait.js';

const Chat = ClientMessage.define('chat', z.object({ text: z.string() }));
const Announcement = ClientMessage.define<{ text: string }>('announcement');
const CreateIncident = ClientMessage.define(
	'incident.create',
	z.object({ title: z.string().min(1) })
);

async function server(options: Partial<SocketServerOptions> = {}) {
	return startSocketServer({ routes: [{ path: '/ws', origins: 'any' }], ...options });
}

/** A connected client and the messages it received, by name. */
async function member(url: string, rooms: string[] = []) {
	const client = makeClient(url, { reconnectDelay: 1 });
	const received: InboundMessage[] = [];
	client.onMessage((message) => received.push(message));
	const joined = rooms.map(
		(room) =>
			new Promise<void>((resolve) =>
				client.onMessage((message) => {
					if (message.name == 'room.joined' && (message.data as { room: string }).room == room)
						resolve();
				})
			)
	);
	for (const room of rooms) client.joinRoom(room);
	client.connect();
	await reachState(client, 'connected');
	await within(Promise.all(joined), `joins of ${rooms.join(', ')}`);
	const named = (name: string) => received.filter((message) => message.name == name);
	/** Resolves once `count` messages named `name` arrived. */
	const waitFor = (name: string, count = 1) =>
		within(
			new Promise<InboundMessage[]>((resolve) => {
				const check = () => named(name).length >= count && resolve(named(name));
				check();
				client.onMessage(check);
			}),
			`${count} × ${name}`
		);
	return { client, received, named, waitFor };
}

describe('connected', () => {
	it('greets every connection with its id and the data the route exposes', async () => {
		const running = await startSocketServer({
			routes: [
				defineRoute({
					path: '/ws',
					origins: 'any',
					authenticate: () => ({ success: true, data: { name: 'ada', secret: 's3' } }),
					connectedData: (connection) => ({ name: connection.authData.name })
				})
			]
		});
		const { waitFor } = await member(running.url());
		const [greeting] = await waitFor('connected');
		const data = greeting.data as { id: string; name: string };
		expect(data.name).toBe('ada');
		expect(data).not.toHaveProperty('secret');
		expect([...running.sockets.connections].map((connection) => connection.id)).toEqual([data.id]);
	});
});

describe('rooms', () => {
	it('resolves a publish with its place in the room, and refuses an empty room name', async () => {
		const running = await server();
		const first = await running.sockets.publish(Announcement, { text: 'a' }, { room: 'p' });
		const second = await running.sockets.to('p').emit(Announcement, { text: 'b' });
		expect(second).toEqual({ offset: first!.offset + 1, epoch: first!.epoch });
		expect(await running.sockets.publish(Announcement, { text: 'all' })).toBeUndefined();
		await expect(
			running.sockets.publish(Announcement, { text: 'x' }, { room: '' })
		).rejects.toThrow(TypeError);
	});

	it('confirms joins and delivers room messages only to members, with the room named', async () => {
		const running = await server();
		const inRoom = await member(running.url(), ['project:1']);
		const elsewhere = await member(running.url(), ['project:2']);
		await running.sockets.to('project:1').emit(Announcement, { text: 'for project 1' });
		await running.sockets.publish(Announcement, { text: 'for everyone' });
		const [first, second] = await inRoom.waitFor('announcement', 2);
		// A room delivery is the compact form: its place in the stream, no timestamp (PROTOCOL.md).
		expect(first).toMatchObject({ room: 'project:1', data: { text: 'for project 1' }, offset: 1 });
		expect(first.timestamp).toBeUndefined();
		expect(second.data).toEqual({ text: 'for everyone' });
		expect(typeof second.timestamp).toBe('number');
		expect((await elsewhere.waitFor('announcement')).map((message) => message.data)).toEqual([
			{ text: 'for everyone' }
		]);
	});

	it('stops delivering after room.leave and after the connection closes', async () => {
		const running = await server();
		const leaver = await member(running.url(), ['room']);
		const stayer = await member(running.url(), ['room']);
		leaver.client.leaveRoom('room');
		// A request is answered after the leave was processed: frames are handled in order.
		await expect(leaver.client.request(CreateIncident, { title: 'x' })).rejects.toThrow();
		await running.sockets.to('room').emit(Announcement, { text: 'after leave' });
		await stayer.waitFor('announcement');
		expect(leaver.named('announcement')).toEqual([]);
		const [stayerGreeting] = await stayer.waitFor('connected');
		const stayerId = (stayerGreeting.data as { id: string }).id;
		const onServer = [...running.sockets.connections].find((c) => c.id == stayerId)!;
		stayer.client.disconnect();
		await within(onServer.closed, 'the server to see the close');
		expect(onServer.joinedRooms.size).toBe(0);
		expect([...running.sockets.connections].map((c) => c.id)).not.toContain(stayerId);
	});

	it('refuses a join authorizeJoin denies with an error reply, and the client stays connected', async () => {
		const running = await startSocketServer({
			routes: [
				defineRoute({
					path: '/ws',
					origins: 'any',
					authenticate: () => ({ success: true, data: { account: 'a1' } }),
					authorizeJoin: async (connection, room) =>
						room == `account:${connection.authData.account}`
				})
			]
		});
		const { client, waitFor, named } = await member(running.url(), ['account:a1']);
		const refused = new Promise<SocketError>((resolve) => client.onError(resolve));
		client.joinRoom('account:b2');
		const error = await within(refused, 'the refusal');
		expect(error).toMatchObject({
			kind: 'server',
			detail: { code: 'forbidden', message: 'Not allowed to join "account:b2"' }
		});
		await running.sockets.to('account:b2').emit(Announcement, { text: 'secret' });
		await running.sockets.to('account:a1').emit(Announcement, { text: 'mine' });
		expect((await waitFor('announcement')).map((message) => message.data)).toEqual([
			{ text: 'mine' }
		]);
		expect(named('room.joined')).toHaveLength(1);
		expect(client.connectionState).toBe('connected');
	});

	it('refuses malformed joins and the reserved room "*"', async () => {
		const running = await server();
		const { client } = await member(running.url());
		for (const data of [{}, { room: '' }, { room: 7 }, { room: '*' }, { room: 'x'.repeat(300) }]) {
			const failure = await client
				.request(ClientMessage.define('room.join'), data)
				.catch((error: SocketError) => error);
			expect(failure).toMatchObject({ kind: 'server', detail: { code: 'malformed' } });
		}
	});

	it('rejoins its rooms after the server restarts on the same port', async () => {
		const first = await server();
		const port = first.port;
		const listener = await member(first.url(), ['project:9']);
		const reconnected = nextEvent(listener.client, Connected, 10_000);
		await first.stop();
		const second = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] }, port);
		await reconnected;
		await listener.waitFor('room.joined', 2);
		await second.sockets.to('project:9').emit(Announcement, { text: 'welcome back' });
		expect((await listener.waitFor('announcement'))[0].data).toEqual({ text: 'welcome back' });
	});
});

describe('broadcast', () => {
	async function broadcaster(includeSelf: boolean, rooms?: string[]) {
		const running = await server();
		running.sockets.on(Chat, (connection, data) => {
			void connection.broadcast(
				{ name: 'chat', data, timestamp: Date.now() },
				{ rooms, includeSelf }
			);
		});
		return running;
	}

	it('reaches the other members of the given rooms, not the sender, by default', async () => {
		const running = await broadcaster(false, ['lobby']);
		const sender = await member(running.url(), ['lobby']);
		const peer = await member(running.url(), ['lobby']);
		const outsider = await member(running.url(), ['other']);
		sender.client.emit(Chat, { text: 'hi' });
		expect((await peer.waitFor('chat'))[0].data).toEqual({ text: 'hi' });
		await running.sockets.publish(Announcement, { text: 'sync' });
		await Promise.all([sender, outsider].map((client) => client.waitFor('announcement')));
		expect(sender.named('chat')).toEqual([]);
		expect(outsider.named('chat')).toEqual([]);
	});

	it('includes the sender with includeSelf, and without rooms reaches the whole route', async () => {
		const running = await broadcaster(true);
		const sender = await member(running.url());
		const peer = await member(running.url());
		sender.client.emit(Chat, { text: 'everyone' });
		await Promise.all([sender.waitFor('chat'), peer.waitFor('chat')]);
	});
});

describe('typed handlers and requests', () => {
	it('answers a request with reply(), validated by the shared definition', async () => {
		const running = await server();
		const seen: unknown[] = [];
		running.sockets.on(CreateIncident, async (connection: Connection, data, reply) => {
			seen.push([connection.id.length, data]);
			reply({ uuid: 'i-1', title: data.title });
		});
		const { client } = await member(running.url());
		expect(await client.request(CreateIncident, { title: 'DB down' })).toEqual({
			uuid: 'i-1',
			title: 'DB down'
		});
		expect(seen).toEqual([[36, { title: 'DB down' }]]);
		await expect(client.request(CreateIncident, { title: '' })).rejects.toMatchObject({
			kind: 'server',
			detail: { code: 'invalid_data' }
		});
	});

	it('answers reply.error() as an error, and a plain emit needs no reply', async () => {
		const running = await server();
		const handled = vi.fn();
		let secondHandled: () => void = () => {};
		const second = new Promise<void>((resolve) => (secondHandled = resolve));
		running.sockets.on(CreateIncident, (_connection, data, reply) => {
			handled(data);
			reply.error('quota', 'Too many incidents');
			reply({ ignored: true });
			if (handled.mock.calls.length == 2) secondHandled();
		});
		const { client } = await member(running.url());
		await expect(client.request(CreateIncident, { title: 'x' })).rejects.toMatchObject({
			message: 'Too many incidents',
			detail: { code: 'quota', message: 'Too many incidents' }
		});
		client.emit(CreateIncident, { title: 'fire and forget' });
		await within(second, 'the second message');
		expect(handled).toHaveBeenLastCalledWith({ title: 'fire and forget' });
	});

	it('refuses publishing data that fails the schema, and reserved names as handlers', async () => {
		const running = await server();
		await expect(
			running.sockets.publish(CreateIncident, { title: '' }, { room: 'r' })
		).rejects.toThrow(TypeError);
		expect(() => running.sockets.on(ClientMessage.define('room.join'), () => {})).toThrow(
			/reserved/
		);
	});

	it('removes a handler with the function on() returns', async () => {
		const running = await server();
		const off = running.sockets.on(CreateIncident, (_connection, _data, reply) => reply('ok'));
		const { client } = await member(running.url());
		expect(await client.request(CreateIncident, { title: 'a' })).toBe('ok');
		off();
		await expect(client.request(CreateIncident, { title: 'b' })).rejects.toMatchObject({
			detail: { code: 'unknown_message' }
		});
	});
});

describe('connection API', () => {
	it('lets onConnect use the connection object: params, send, emit, joinRoom, close', async () => {
		const running = await startSocketServer({
			routes: [
				defineRoute({
					path: '/ws/:project',
					origins: 'any',
					onConnect: (connection) => {
						connection.joinRoom(`project:${connection.params.project}`);
						connection.emit(Announcement, { text: `hello ${connection.params.project}` });
						connection.send({ name: 'raw', data: [1, 2], timestamp: 0 });
					}
				})
			]
		});
		const { waitFor, client } = await member(running.url('/ws/p7'));
		expect((await waitFor('announcement'))[0].data).toEqual({ text: 'hello p7' });
		expect((await waitFor('raw'))[0].data).toEqual([1, 2]);
		const [connection] = running.sockets.connections;
		expect([...connection.joinedRooms]).toEqual(['project:p7']);
		expect(connection.req.url).toBe('/ws/p7');
		const closed = new Promise<{ code: number }>((resolve) =>
			client.onError((error) => error.kind == 'closed' && resolve(error.detail as { code: number }))
		);
		connection.close(1008, 'Account deleted');
		expect((await within(closed, 'the close')).code).toBe(1008);
	});

	it('answers a raw ws client that sends a request by hand', async () => {
		const running = await server();
		running.sockets.on(CreateIncident, (_connection, { title }, reply) => reply({ title }));
		const socket = new WebSocket(running.url());
		const frames: unknown[] = [];
		const replied = new Promise<void>((resolve) =>
			socket.on('message', (data) => {
				frames.push(JSON.parse(data.toString()));
				if (frames.length == 2) resolve();
			})
		);
		socket.on('open', () =>
			socket.send(JSON.stringify({ name: 'incident.create', data: { title: 'raw' }, id: 9 }))
		);
		await within(replied, 'the reply');
		socket.close();
		expect(frames[1]).toMatchObject({ name: 'reply', id: 9, data: { title: 'raw' } });
	});
});
