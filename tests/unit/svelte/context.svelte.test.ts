// @vitest-environment jsdom
import { describe, expect, it, vi } from 'vitest';
import type { LiveSocket } from '../../../src/lib/svelte/index.js';
import Consumer from '../../kit/svelte/components/Consumer.svelte';
import Provider from '../../kit/svelte/components/Provider.svelte';
import { live, render } from '../../kit/svelte/live.svelte.js';

// The real `ws`: its browser stub throws as soon as a socket is created.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

describe('setSocket / getSocket', () => {
	it('hands the socket a parent set to the components below it', () => {
		const socket = live('ws://127.0.0.1:9');
		let found: LiveSocket | undefined;
		render(Provider, { socket, onsocket: (socket) => (found = socket) });
		expect(found).toBe(socket);
		// Read by the child's template: the state, and with it the (refused) connection attempt.
		expect(document.querySelector('output')?.textContent).toBe('connecting');
	});

	it('getSocket() without a parent that called setSocket throws a clear error', () => {
		expect(() => render(Consumer, { onsocket: () => {} })).toThrow(
			/getSocket\(\) found no LiveSocket: call setSocket/
		);
	});
});
