// The slow-consumer close and conflation side by side: two readers whose TCP sockets stop reading,
// one in a room of unkeyed messages, one in a room of keyed ones, each sent the same bytes, far more
// than maxBufferedBytes. The first is closed with 1013 as before; the second falls behind, and what
// the server holds for it stays bounded by its keys (plus what one turn wrote), not by what was sent.
import { describe, expect, it } from 'vitest';
import { lastStates, Log, newestStates, State, tcpOf } from '../kit/conflation.js';
import { connectionOf, Peer, serve } from '../kit/limits.js';

const CAP = 256 * 1024;
const KEYS = 20;
const PER_TURN = 50;
/** Far more than CAP, and more than the kernel buffers of a paused localhost socket (about 4 MB). */
const TOTAL_BYTES = 8 * 1024 * 1024;
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('slow consumers of keyed and unkeyed messages', () => {
	it('closes a reader behind on unkeyed messages with 1013; one behind on keyed ones stays open within keys × size', async () => {
		const server = await serve({ maxBufferedBytes: CAP });
		const { sockets } = server;
		const logs = await Peer.open(server.url());
		const states = await Peer.open(server.url());
		await logs.join('logs');
		await states.join('states');
		const logsConnection = connectionOf(server, logs.id);
		const statesConnection = connectionOf(server, states.id);
		tcpOf(logs.ws).pause();
		tcpOf(states.ws).pause();

		const pad = 'p'.repeat(1_000);
		const cost = Buffer.byteLength(
			JSON.stringify(['state', { key: 'k19', n: 1e6, pad }, 'states', 1e6, 'epoch-xxxxxxxx', 'k19'])
		);
		const count = Math.ceil(TOTAL_BYTES / cost);
		// Keys × frame (with its 4-byte header and 16 bytes of bookkeeping), plus two turns: before it
		// falls behind, the turn being queued and the previous turn's write the kernel did not take.
		const bound = (KEYS + 2 * PER_TURN) * (cost + 20);
		let maxStates = 0;
		let logsClosedAfter = 0;
		for (let n = 0; n < count;) {
			for (let index = 0; index < PER_TURN && n < count; index++, n++) {
				await sockets.publish(Log, { n, pad }, { room: 'logs' });
				await sockets.publish(State, { key: `k${n % KEYS}`, n, pad }, { room: 'states' });
				maxStates = Math.max(maxStates, statesConnection.bufferedBytes);
				if (!logsClosedAfter && !logsConnection.isOpen) logsClosedAfter = n;
			}
			await nextTurn();
		}
		const metrics = sockets.metricsSnapshot();
		console.info(
			`[conflation slow consumers] ${count} × ${cost} B to each; the unkeyed reader closed after ` +
				`${logsClosedAfter}; the keyed one held at most ${maxStates} B (bound ${bound} B), ` +
				`${metrics.messagesConflated['/ws']} conflated`
		);

		expect(logsClosedAfter).toBeGreaterThan(0);
		expect(logsConnection.closeCodeDecided).toBe(1013);
		expect(metrics.slowConsumerCloses).toBe(1);

		expect(statesConnection.isOpen).toBe(true);
		expect(statesConnection.closeCodeDecided).toBeUndefined();
		expect(maxStates).toBeLessThanOrEqual(bound);
		expect(maxStates).toBeLessThan(CAP);
		expect(metrics.messagesConflated['/ws']).toBeGreaterThan(count / 2);

		// Reading again, it converges to the newest value of every key and stays open.
		tcpOf(states.ws).resume();
		expect(await newestStates(states, count - 1, KEYS)).toEqual(lastStates(count, KEYS));
		expect(states.isOpen).toBe(true);
		await states.roundTrip();
	});
});
