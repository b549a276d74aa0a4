// Issue 21 in a SocketClient alone: it has no frame for messages to wait for, so every message,
// keyed or not, reaches its handlers as it arrives (the LiveSocket skips superseded ones at its
// flush; the server, in a reader's backlog).
import { describe, expect, it } from 'vitest';
import { ClientMessage, type SocketClient } from '../../src/lib/index.js';
import { makeClient, track } from '../kit/clients.js';
import { reachState, within } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';
import { countedSchema, RoomDeliveries, type Reading } from '../kit/svelte/conflation.js';

async function connectedPair() {
	const server = track(await TestServer.start());
	const client = makeClient(server.url);
	client.connect();
	const peer = await server.connection(0);
	await reachState(client, 'connected');
	return { client, room: new RoomDeliveries(peer) };
}

/** Resolves once `client` received `count` more messages (of any name). */
function arrival(client: SocketClient, count: number): Promise<void> {
	let seen = 0;
	return within(
		new Promise<void>((resolve) => client.onMessage(() => ++seen == count && resolve())),
		`${count} messages`
	);
}

const k = (key: string, v: number | string): Reading => ({ key, v });

describe('SocketClient alone: keyed messages', () => {
	it('hands every keyed message on as it arrives, superseded or not', async () => {
		const { client, room } = await connectedPair();
		const { schema, validated } = countedSchema();
		const Reading = ClientMessage.define('reading', schema);
		const handled: unknown[] = [];
		const before: number[] = [];
		// Called before the definitions' handlers: how many were handled when each one arrived.
		client.onMessage(() => before.push(handled.length));
		client.on(Reading, (reading) => handled.push(reading.v));
		const arrived = arrival(client, 3);
		room.send('reading', 'a', k('m', 1));
		room.send('reading', 'a', k('m', 2));
		room.send('reading', 'a', k('m', 3));
		await arrived;
		expect(before).toEqual([0, 1, 2]);
		expect(handled).toEqual([1, 2, 3]);
		expect(validated).toHaveLength(3);
	});
});
