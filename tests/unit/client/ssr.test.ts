// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Outbox, SocketClient } from '../../../src/lib/index.js';

afterEach(() => {
	vi.restoreAllMocks();
});

describe('SocketClient and the page globals', () => {
	it('touches neither window nor document until connect(), then listens to both', () => {
		const windowListeners = vi.spyOn(window, 'addEventListener');
		const documentListeners = vi.spyOn(document, 'addEventListener');
		const client = new SocketClient('ws://127.0.0.1:1', { WebSocket });
		client.joinRoom('a');
		client.send('queued', 1);
		expect(windowListeners).not.toHaveBeenCalled();
		expect(documentListeners).not.toHaveBeenCalled();

		client.connect();
		expect(windowListeners.mock.calls.map(([type]) => type).sort()).toEqual([
			'offline',
			'online',
			'pagehide',
			'pageshow'
		]);
		expect(documentListeners.mock.calls.map(([type]) => type)).toEqual(['visibilitychange']);
		client.dispose();
	});

	it('removes exactly the listeners it added on dispose()', () => {
		const added = vi.spyOn(window, 'addEventListener');
		const removed = vi.spyOn(window, 'removeEventListener');
		const client = new SocketClient('ws://127.0.0.1:1', { WebSocket });
		client.connect();
		client.dispose();
		expect(removed.mock.calls).toEqual(added.mock.calls);
	});
});

describe('Outbox and the page globals', () => {
	it('writes to no storage it was not given, and reads crypto only to make a key', () => {
		const storage = vi.spyOn(window.sessionStorage, 'setItem');
		const random = vi.spyOn(crypto, 'getRandomValues');
		const client = new SocketClient('ws://127.0.0.1:1', { WebSocket });
		const outbox = new Outbox(client);
		expect(random).not.toHaveBeenCalled();
		outbox.emit({ name: 'note', schema: undefined }, 1);
		expect(random).toHaveBeenCalledTimes(1);
		expect(storage).not.toHaveBeenCalled();
		outbox.dispose();
		client.dispose();
	});
});
