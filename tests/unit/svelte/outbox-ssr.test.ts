// No jsdom: in Node's environment the runes modules are compiled for the server, as in SSR.
import { describe, expect, it } from 'vitest';
import { ClientMessage } from '../../../src/lib/index.js';
import type { OutboxStorage } from '../../../src/lib/client/outbox-storage.js';
import { type WebSocketConstructor } from '../../../src/lib/client/socket-client.js';
import { LiveSocket } from '../../../src/lib/svelte/index.js';

const Open = ClientMessage.define<{ title: string }>('incident.open');

describe('LiveSocket.outbox during SSR', () => {
	it('never touches its storage, and is disposed with the LiveSocket', async () => {
		const touched: string[] = [];
		const storage: OutboxStorage = {
			getItem: () => (touched.push('getItem'), null),
			setItem: () => void touched.push('setItem'),
			removeItem: () => void touched.push('removeItem')
		};
		const WebSocket = class {} as unknown as WebSocketConstructor;
		const socket = new LiveSocket('ws://127.0.0.1:9', { WebSocket, outbox: { storage } });
		const request = socket.outbox.request(Open, { title: 'rendered' });
		expect(socket.outbox.entries).toHaveLength(1);
		socket.dispose();
		await expect(request).rejects.toMatchObject({ kind: 'closed' });
		expect(touched).toEqual([]);
	});
});
