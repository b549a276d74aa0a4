import { describe, expect, it } from 'vitest';
import {
	ClientMessage,
	eventKeyedDialect,
	typeKeyedDialect,
	type Dialect
} from '../../src/lib/index.js';
import { makeClient, track } from '../kit/clients.js';
import { reachState, within } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';

const Alert = ClientMessage.define<{ severity: string; message: string }>('alert');
const OrderCreated = ClientMessage.define<{ id: number }>('order:created');

async function connect(protocol: Dialect, options = {}) {
	const server = track(await TestServer.start());
	server.answerPings = false;
	const client = makeClient(server.url, { protocol, ...options });
	client.connect();
	const peer = await server.connection(0);
	await reachState(client, 'connected');
	return { client, peer };
}

describe('type-keyed dialect (first-frame token, subscribe/unsubscribe, JSON ping)', () => {
	it('sends the bare token first, then subscribes, and maps {type, …fields} to messages', async () => {
		const { client, peer } = await connect(typeKeyedDialect, {
			auth: () => 'jwt-token',
			heartbeatInterval: 20
		});
		client.joinRoom('machines');
		const alert = new Promise<unknown>((resolve) => client.on(Alert, resolve));
		peer.send({ type: 'alert', severity: 'critical', message: 'Temperature exceeded' });
		expect(await within(alert, 'the alert')).toEqual({
			severity: 'critical',
			message: 'Temperature exceeded'
		});
		const ping = await peer.waitForFrame((frame) => frame.includes('ping'), 'a JSON ping');
		expect(ping).toBe('{"type":"ping"}');
		peer.send({ type: 'pong' });
		client.leaveRoom('machines');
		await peer.waitForFrame((frame) => frame.includes('unsubscribe'));
		expect(peer.frames[0]).toBe('jwt-token');
		expect(peer.messages).toContainEqual({ type: 'subscribe', channel: 'machines' });
		expect(peer.messages).toContainEqual({ type: 'unsubscribe', channel: 'machines' });
	});

	it('counts a server heartbeat as liveness', async () => {
		const { client, peer } = await connect(typeKeyedDialect, {
			heartbeatInterval: 20,
			heartbeatTimeout: 60
		});
		let disconnected = false;
		client.onStateChange(() => (disconnected = true));
		// Answer each ping with the server's own heartbeat message instead of a pong.
		for (let count = 1; count <= 4; count++) {
			await peer.waitForFrame(
				(frame) => frame == '{"type":"ping"}',
				`ping ${count}`,
				5_000,
				count - 1
			);
			peer.send({ type: 'heartbeat', server_time: new Date().toISOString() });
		}
		expect(disconnected).toBe(false);
	});
});

describe('event-keyed dialect (cookie auth, {event, data, timestamp})', () => {
	it('sends no auth frame, subscribes, and maps events and control messages', async () => {
		const { client, peer } = await connect(eventKeyedDialect, { auth: () => 'ignored' });
		client.joinRoom('order_changes');
		const order = new Promise<[unknown, number | undefined]>((resolve) =>
			client.on(OrderCreated, (data, message) => resolve([data, message.timestamp]))
		);
		const connected = new Promise<unknown>((resolve) =>
			client.on(ClientMessage.define('connected'), resolve)
		);
		peer.send({ type: 'connected', message: 'WebSocket connection established', userId: 1 });
		peer.send({ event: 'order:created', data: { id: 123 }, timestamp: '2026-01-25T10:30:00.000Z' });
		expect(await within(connected, 'connected')).toEqual({
			message: 'WebSocket connection established',
			userId: 1
		});
		expect(await within(order, 'the order')).toEqual([
			{ id: 123 },
			Date.parse('2026-01-25T10:30:00.000Z')
		]);
		await peer.waitForFrames(1);
		expect(peer.messages[0]).toEqual({ type: 'subscribe', channel: 'order_changes' });
	});

	it('reports {type:"error"} as a server error', async () => {
		const { client, peer } = await connect(eventKeyedDialect);
		const error = new Promise<string>((resolve) => client.onError((e) => resolve(e.message)));
		peer.send({ type: 'error', message: 'Unknown channel' });
		expect(await within(error, 'the error')).toBe('Unknown channel');
	});
});

describe('custom dialect', () => {
	it('uses whatever object implements the Dialect interface', async () => {
		const pipeDialect: Dialect = {
			ping: 'PING',
			decode: (frame) => {
				if (frame == 'PONG') return null;
				const [name, data] = frame.split('|');
				return { name, data };
			},
			encode: ({ name, data }) => `${name}|${String(data)}`,
			join: (room) => `JOIN|${room}`,
			leave: (room) => `LEAVE|${room}`
		};
		const { client, peer } = await connect(pipeDialect);
		client.joinRoom('lobby');
		client.send('say', 'hello');
		const heard = new Promise<unknown>((resolve) =>
			client.on(ClientMessage.define<string>('said'), resolve)
		);
		peer.send('said|hi');
		expect(await within(heard, 'the custom frame')).toBe('hi');
		await peer.waitForFrames(2);
		expect(peer.frames).toEqual(['JOIN|lobby', 'say|hello']);
	});
});
