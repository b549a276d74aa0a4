// Conflation with permessage-deflate: a reader that stops reading, on a route that compresses, in a
// room of keyed messages, falls behind and stays open, as without compression. (`ws` deflates
// asynchronously and holds what it deflates out of the TCP socket's sight: the transport counts it as
// backpressure, or the backlog kept writing into `ws` until the reader was closed with 1013.)
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { lastStates, newestStates, State, tcpOf } from '../kit/conflation.js';
import { connectionOf, Peer, serve } from '../kit/limits.js';

const CAP = 256 * 1024;
const KEYS = 20;
const PER_TURN = 50;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('conflation on a compressed connection', () => {
	it('keeps a reader behind on keyed messages open, within keys × size', async () => {
		const server = await serve({
			maxBufferedBytes: CAP,
			compression: { enabled: true, threshold: 16 }
		});
		const { sockets } = server;
		const states = await Peer.open(server.url());
		expect(states.ws.extensions).toContain('permessage-deflate');
		await states.join('states');
		const connection = connectionOf(server, states.id);
		tcpOf(states.ws).pause();
		let maxBuffered = 0;
		let cost = 0;
		const count = 8_000;
		for (let n = 0; n < count;) {
			for (let index = 0; index < PER_TURN && n < count; index++, n++) {
				// Random text: deflate cannot shrink it, so the kernel's buffers fill as without it.
				const pad = randomBytes(750).toString('base64');
				cost ||=
					JSON.stringify([
						'state',
						{ key: 'k19', n: 1e4, pad },
						'states',
						1e4,
						'e'.repeat(9),
						'k19'
					]).length + 20;
				await sockets.publish(State, { key: `k${n % KEYS}`, n, pad }, { room: 'states' });
				maxBuffered = Math.max(maxBuffered, connection.bufferedBytes);
			}
			await nextTurn();
		}
		const metrics = sockets.metricsSnapshot();
		console.info(
			`[conflation compressed] ${count} published; open ${connection.isOpen} (${connection.closeCodeDecided}); ` +
				`held at most ${maxBuffered} B; ${metrics.messagesConflated['/ws'] ?? 0} conflated`
		);
		expect(connection.closeCodeDecided).toBeUndefined();
		expect(connection.isOpen).toBe(true);
		// Keys × size, plus two turns (the one queued, and the previous one's write not yet taken).
		expect(maxBuffered).toBeLessThanOrEqual((KEYS + 2 * PER_TURN) * cost);
		expect(metrics.messagesConflated['/ws']).toBeGreaterThan(count / 2);

		// Reading again, it gets the newest value of every key, compressed as before.
		tcpOf(states.ws).resume();
		expect(await newestStates(states, count - 1, KEYS)).toEqual(lastStates(count, KEYS));
		await states.roundTrip();
	});
});
