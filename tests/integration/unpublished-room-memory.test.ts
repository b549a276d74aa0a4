import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connected, Disconnected } from '../../src/lib/index.js';
import { MemoryEngine } from '../../src/lib/server/index.js';
import { Fence, Seq, tally, watchStream, CHAOS_ROOM as ROOM } from '../kit/chaos.js';
import { makeClient } from '../kit/clients.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { nextEvent } from '../kit/wait.js';

// The sibling of issue 17 item 11 on the default engine: the MemoryEngine created a room's state
// when a join read its position, and forgot it as soon as its last member left while it had no
// history, so the lone member of a room never published to came back to a new epoch: Unrecoverable.

const RECONNECT = { reconnectDelay: 20, maxReconnectDelay: 100 };
const MINUTE = 60_000;

afterEach(() => {
	vi.useRealTimers();
});

describe('a room never published to, on the MemoryEngine', { timeout: 30_000 }, () => {
	it('its lone member comes back recovered, and gets what was published while it was away', async () => {
		const running = await startSocketServer({
			engine: new MemoryEngine(),
			routes: [{ path: '/ws', origins: 'any' }]
		});
		const client = makeClient(running.url(), RECONNECT);
		const view = watchStream(client);
		client.joinRoom(ROOM);
		client.connect();
		await view.joined();

		for (const publishMeanwhile of [false, true]) {
			const disconnected = nextEvent(client, Disconnected, 10_000);
			client.disconnect();
			await disconnected;
			if (publishMeanwhile) {
				for (let n = 1; n <= 3; n++) await running.sockets.publish(Seq, { n }, { room: ROOM });
			}
			const reconnected = nextEvent(client, Connected, 10_000);
			client.connect();
			expect(await reconnected).toEqual({ reconnected: true, recovered: true });
		}
		await running.sockets.publish(Fence, { at: 1 }, { room: ROOM });
		await view.fenced(1);
		const { lost, duplicated } = tally([1, 2, 3], view.received);
		expect({ lost, duplicated, unrecoverable: view.unrecoverable }).toEqual({
			lost: [],
			duplicated: [],
			unrecoverable: []
		});
	});
});

describe('MemoryEngine positions read before a first publish', () => {
	async function engineWithRoom() {
		vi.useFakeTimers({ toFake: ['Date'] });
		const engine = new MemoryEngine({ history: { size: 100, ttl: 5 * MINUTE } });
		engine.start({ deliver: () => {} });
		return engine;
	}

	it('are followed by the first epoch for as long as the room stayed subscribed', async () => {
		const engine = await engineWithRoom();
		engine.subscribe('r');
		const read = (await engine.history('r')).position;
		vi.setSystemTime(Date.now() + 60 * MINUTE);
		await engine.publish('r', { name: 'x' });
		expect(await engine.history('r', read)).toMatchObject({
			recovered: true,
			messages: [{ name: 'x', offset: 1 }]
		});
	});

	it('otherwise only within the history ttl (a room is forgotten once its history expired)', async () => {
		const engine = await engineWithRoom();
		const read = (await engine.history('r')).position;
		vi.setSystemTime(Date.now() + 4 * MINUTE);
		expect((await engine.history('r', read)).recovered).toBe(true);
		await engine.publish('r', { name: 'x' });
		expect((await engine.history('r', read)).recovered).toBe(true);

		const late = (await engine.history('s')).position;
		vi.setSystemTime(Date.now() + 6 * MINUTE);
		expect((await engine.history('s', late)).recovered).toBe(false);
		await engine.publish('s', { name: 'x' });
		expect((await engine.history('s', late)).recovered).toBe(false);
	});

	it("never for another engine's (a restarted process) or one read after the epoch began", async () => {
		const engine = await engineWithRoom();
		const other = await engineWithRoom();
		const elsewhere = (await other.history('r')).position;
		await engine.publish('r', { name: 'x' });
		vi.setSystemTime(Date.now() + 1);
		const after = { offset: 0, epoch: (await engine.history('q')).position.epoch };
		for (const since of [elsewhere, after]) {
			expect((await engine.history('r', since)).recovered).toBe(false);
		}
	});
});
