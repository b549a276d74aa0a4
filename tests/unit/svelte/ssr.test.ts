// No jsdom: in Node's environment the runes modules are compiled for the server, as in SSR.
import { describe, expect, it } from 'vitest';
import { ClientMessage } from '../../../src/lib/index.js';
import { type WebSocketConstructor } from '../../../src/lib/client/socket-client.js';
import { LiveSocket } from '../../../src/lib/svelte/index.js';

const Tick = ClientMessage.define<number>('tick');

describe('LiveSocket during SSR', () => {
	it('renders its fields and feeds, joins rooms, and never opens a socket', async () => {
		let sockets = 0;
		const WebSocket = class {
			constructor() {
				sockets++;
			}
		} as unknown as WebSocketConstructor;
		const socket = new LiveSocket('ws://127.0.0.1:9', { WebSocket });
		const stream = socket.stream(Tick);
		const collection = socket.collection(Tick, { key: (n) => n, initial: [1, 2] });
		expect([socket.state, socket.pausedBy, socket.isConnected, socket.attempt]).toEqual([
			'disconnected',
			undefined,
			false,
			0
		]);
		expect([socket.lastMessage, socket.error, socket.latest(Tick).current]).toEqual([
			undefined,
			undefined,
			undefined
		]);
		expect(stream.current).toEqual([]);
		expect(collection.values).toEqual([1, 2]);

		socket.connect();
		socket.joinRoom('account:1');
		expect([...socket.joinedRooms]).toEqual(['account:1']);
		await Promise.resolve();
		expect(socket.client.connectionState).toBe('disconnected');
		expect(sockets).toBe(0);
		socket.dispose();
	});
});
