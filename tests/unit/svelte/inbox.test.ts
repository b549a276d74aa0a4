import { describe, expect, it } from 'vitest';
import { Inbox, MAX_WAITING } from '../../../src/lib/svelte/inbox.js';
import type { InboundMessage } from '../../../src/lib/protocol/envelope.js';

describe('Inbox', () => {
	it('hands on what waits at once once more than MAX_WAITING letters wait (no frame comes)', () => {
		let wakes = 0;
		const inbox = new Inbox(
			() => wakes++,
			() => {}
		);
		const handed: number[] = [];
		const post = (n: number, key?: string) => {
			const message: InboundMessage = { name: 'tick', data: n, room: 'a', conflationKey: key };
			inbox.post({ message, hand: () => handed.push(n) });
		};
		post(-1, 'k'); // superseded by the last one
		for (let n = 0; n < MAX_WAITING - 1; n++) post(n);
		expect(handed).toEqual([]);
		expect(wakes).toBe(MAX_WAITING);
		post(MAX_WAITING, 'k');
		expect(handed).toHaveLength(MAX_WAITING);
		expect(handed[0]).toBe(0);
		expect(handed.at(-1)).toBe(MAX_WAITING);
		inbox.drain(); // the flush asked for earlier finds nothing
		expect(handed).toHaveLength(MAX_WAITING);
	});
});
