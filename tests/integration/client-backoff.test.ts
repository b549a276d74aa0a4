import { afterEach, describe, expect, it, vi } from 'vitest';
import { Connected, Disconnected, ReconnectAttempt } from '../../src/lib/index.js';
import { makeClient, track } from '../kit/clients.js';
import { nextEvent, reachState } from '../kit/wait.js';
import { TestServer } from '../kit/servers/ws-server.js';

// Sockets stay real; only the client's timers and clock are fake, so each backoff delay can be
// read from its ReconnectAttempt event and skipped over instead of waited for.
afterEach(() => {
	vi.useRealTimers();
	vi.restoreAllMocks();
});

async function deadPort(): Promise<number> {
	const server = await TestServer.start();
	const port = server.port;
	await server.stop();
	return port;
}

describe('backoff', () => {
	it('draws every delay from [0, min(max, min·2^attempt)) and caps the window', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
		const client = makeClient(`ws://127.0.0.1:${await deadPort()}`, {
			reconnectDelay: 500,
			maxReconnectDelay: 20_000
		});
		const attempts: { attempt: number; delay: number }[] = [];
		client.connect();
		for (let index = 0; index < 12; index++) {
			const attempt = await nextEvent(client, ReconnectAttempt);
			attempts.push(attempt);
			vi.advanceTimersByTime(attempt.delay);
		}
		expect(attempts.map(({ attempt }) => attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
		for (const { attempt, delay } of attempts) {
			const window = Math.min(20_000, 500 * 2 ** (attempt - 1));
			expect(delay).toBeGreaterThanOrEqual(0);
			expect(delay).toBeLessThan(window);
		}
	});

	it('reaches the default 5 s cap at the fifth attempt and never goes past it', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
		vi.spyOn(Math, 'random').mockReturnValue(0.999999);
		const client = makeClient(`ws://127.0.0.1:${await deadPort()}`);
		const delays: number[] = [];
		client.connect();
		for (let index = 0; index < 9; index++) {
			const { delay } = await nextEvent(client, ReconnectAttempt);
			delays.push(delay);
			vi.advanceTimersByTime(delay);
		}
		expect(delays).toEqual([499, 999, 1999, 3999, 4999, 4999, 4999, 4999, 4999]);
	});

	it('keeps climbing while a server accepts and drops at once (no flapping at the minimum)', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
		const server = track(await TestServer.start());
		server.wss.on('connection', (socket) => socket.close(1011, 'overloaded'));
		const client = makeClient(server.url);
		const attempts: number[] = [];
		client.connect();
		for (let index = 0; index < 4; index++) {
			const { attempt, delay } = await nextEvent(client, ReconnectAttempt);
			attempts.push(attempt);
			vi.advanceTimersByTime(delay);
		}
		expect(attempts).toEqual([1, 2, 3, 4]);
	});
});

describe('stable connections', () => {
	it('lets a ReconnectAttempt handler cancel the attempt with disconnect()', async () => {
		const server = track(await TestServer.start());
		const client = makeClient(server.url, { reconnectDelay: 1 });
		client.on(ReconnectAttempt, () => client.disconnect());
		client.connect();
		(await server.connection(0)).socket.close(1011);
		await nextEvent(client, Disconnected);
		expect(client.connectionState).toBe('disconnected');
		client.connect();
		await reachState(client, 'connected');
		expect(server.peers).toHaveLength(2);
	});

	it('announces attempt 1 again after a long-lived connection drops', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
		const server = track(await TestServer.start());
		const client = makeClient(server.url);
		const attempts: number[] = [];
		client.on(ReconnectAttempt, ({ attempt, delay }) => {
			attempts.push(attempt);
			vi.advanceTimersByTime(delay);
		});
		const dropAndReconnect = async (index: number) => {
			const connected = nextEvent(client, Connected);
			(await server.connection(index)).socket.close(1011);
			await connected;
		};
		client.connect();
		await reachState(client, 'connected');
		await dropAndReconnect(0);
		await dropAndReconnect(1);
		vi.setSystemTime(Date.now() + 6_000);
		await dropAndReconnect(2);
		expect(attempts).toEqual([1, 2, 1]);
	});
});
