// Issue 21 in a SocketClient alone: messages queued behind an async schema are validated at their
// turn, and a keyed one that a newer queued message of the same room, name and key supersedes by
// then is skipped unvalidated. Without a backlog, every message reaches the handlers on arrival.
import { describe, expect, it } from 'vitest';
import { ClientMessage, type SocketClient } from '../../src/lib/index.js';
import { errorsOf, makeClient, track } from '../kit/clients.js';
import { reachState, until, within } from '../kit/wait.js';
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
const unkeyed = (v: number | string): Reading => ({ v });

describe('SocketClient: superseded messages in the async backlog', () => {
	it('skips a queued keyed message a newer queued one supersedes, without validating it', async () => {
		const { client, room } = await connectedPair();
		const { schema, validated, release, answered } = countedSchema(new Set([1]));
		const Reading = ClientMessage.define('reading', schema);
		const Plain = ClientMessage.define<Reading>('reading'); // same name, no schema
		const handled: unknown[] = [];
		const plain: unknown[] = [];
		client.on(Reading, (reading) => handled.push(reading.v));
		client.on(Plain, (reading) => plain.push(reading.v));
		const arrived = arrival(client, 8);
		room.send('reading', 'a', unkeyed(1)); // its schema answers once released
		room.send('reading', 'a', k('m', 2));
		room.send('reading', 'a', k('n', 3));
		room.send('reading', 'b', k('m', 4)); // another room: its own
		room.send('reading', 'a', k('m', 5));
		room.send('reading', 'a', unkeyed(6));
		room.send('reading', 'a', unkeyed(6)); // unkeyed: never skipped
		room.send('reading', 'a', k('n', 'invalid')); // supersedes n: 3, and is refused
		await arrived;
		expect(validated).toEqual([unkeyed(1)]);
		release();
		await answered();
		await until(() => plain.length == 6, 'the handlers');
		expect(validated).toEqual([
			unkeyed(1),
			k('m', 4),
			k('m', 5),
			unkeyed(6),
			unkeyed(6),
			k('n', 'invalid')
		]);
		expect(handled).toEqual([1, 4, 5, 6, 6]);
		expect(plain).toEqual([1, 4, 5, 6, 6, 'invalid']);
		expect(errorsOf(client).map((error) => error.message)).toEqual([
			'Invalid "reading": v must be a number'
		]);
	});

	it('hands on a message whose schema ran when a newer one of its key came, then the newer one', async () => {
		const { client, room } = await connectedPair();
		const { schema, validated, release, answered } = countedSchema(new Set([1]));
		const Reading = ClientMessage.define('reading', schema);
		const handled: unknown[] = [];
		const both = new Promise<void>((resolve) =>
			client.on(Reading, (reading) => handled.push(reading.v) == 2 && resolve())
		);
		const arrived = arrival(client, 3);
		room.send('reading', 'a', k('m', 1)); // validated on arrival: its turn has come
		room.send('reading', 'a', k('m', 2)); // queued, superseded by the next
		room.send('reading', 'a', k('m', 3));
		await arrived;
		release();
		await answered();
		await within(both, 'the two');
		expect(validated).toEqual([k('m', 1), k('m', 3)]);
		expect(handled).toEqual([1, 3]);
	});

	it('without a backlog, hands every keyed message on as it arrives, superseded or not', async () => {
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
