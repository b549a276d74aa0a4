// A connection’s life: liveness checks, and what close() does to the connections and the engine.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it, vi } from 'vitest';
import { ClientMessage } from '../../src/lib/index.js';
import { StubEngine } from '../kit/engine-stub.js';
import { parseEnvelope, Peer, serve, connectionError } from '../kit/limits.js';
import { EventLog, RawClient } from '../kit/peers/raw-frames.js';
import { within } from '../kit/wait.js';

describe('liveness', () => {
	it('terminates a client that never answers pings; a healthy one stays across intervals', async () => {
		const closes = new EventLog<{ id: string; code: number }>();
		const server = await serve({
			heartbeat: 50,
			onClose: (connection, code) => closes.push({ id: connection.id, code })
		});
		const healthy = await Peer.open(server.url());
		const silent = await Peer.open(server.url(), { autoPong: false });
		const started = Date.now();
		const closed = await within(silent.closed, 'the silent client to be terminated', 2_000);
		const evictedAfter = Date.now() - started;
		expect(closed.code).toBe(1006);
		expect(silent.pings.items.length).toBeGreaterThanOrEqual(1);
		expect(
			(await closes.waitFor((entry) => entry.id == silent.id, 'onClose of the silent client')).code
		).toBe(1006);

		const pingsSoFar = healthy.pings.items.length;
		await healthy.pings.waitForCount(
			pingsSoFar + 5,
			() => true,
			'5 more pings at the healthy client'
		);
		expect(healthy.isOpen).toBe(true);
		await healthy.roundTrip();
		expect(closes.items.map((entry) => entry.id)).toEqual([silent.id]);
		expect([...server.sockets.connections].map((connection) => connection.id)).toEqual([
			healthy.id
		]);
		console.info(
			`[heartbeat] silent client terminated ${evictedAfter} ms after connecting (heartbeat 50 ms); ` +
				`healthy client answered ${healthy.pings.items.length} pings`
		);
	});

	it('answers "2" with "3" and {"type":"ping"} with {"type":"pong"}', async () => {
		const server = await serve({ rateLimit: false });
		const peer = await Peer.open(server.url());
		await peer.roundTrip();
		const from = peer.frames.items.length;
		peer.send({ type: 'ping' });
		expect(
			await peer.frames.waitFor((frame) => frame.includes('pong'), 'a JSON pong', 5_000, from)
		).toBe('{"type":"pong"}');
		expect(peer.envelopes.filter((message) => message.name == 'error')).toEqual([]);
	});

	it('sends {name:"heartbeat", data:{server_time}} every serverHeartbeat ms', async () => {
		const server = await serve({ serverHeartbeat: 50 });
		const before = Date.now();
		const peer = await Peer.open(server.url());
		const beats = await peer.frames.waitForCount(
			3,
			(frame) => parseEnvelope(frame)?.name == 'heartbeat',
			'3 server heartbeats'
		);
		const times = beats.map((frame) => {
			const message = parseEnvelope(frame)!;
			const { server_time } = message.data as { server_time: string };
			expect(typeof server_time).toBe('string');
			expect(new Date(server_time).toISOString()).toBe(server_time);
			expect(Date.parse(server_time)).toBe(message.timestamp);
			return Date.parse(server_time);
		});
		expect(times[1]).toBeGreaterThan(times[0]);
		expect(times[2]).toBeGreaterThan(times[1]);
		// The server's clock is this process's: every server_time lies between the test's own readings.
		expect(times[0]).toBeGreaterThanOrEqual(before);
		expect(times[2]).toBeLessThanOrEqual(Date.now());
	});
});

describe('graceful close()', () => {
	const News = ClientMessage.define<{ n: number }>('news');

	it('sends what was queued, closes everyone with 1001, resolves, then refuses upgrades', async () => {
		const server = await serve();
		const peers = [await Peer.open(server.url()), await Peer.open(server.url())];
		await server.sockets.publish(News, { n: 1 });
		await server.sockets.publish(News, { n: 2 });
		for (const connection of server.sockets.connections) {
			connection.send({ name: 'direct', data: connection.id, timestamp: Date.now() });
		}
		// Still queued: the outboxes write at the end of this event-loop turn.
		for (const connection of server.sockets.connections) {
			expect(connection.bufferedBytes).toBeGreaterThan(0);
		}
		const closing = server.sockets.close();

		for (const peer of peers) {
			expect(await within(peer.closed, 'the 1001 close')).toEqual({
				code: 1001,
				reason: 'Server shutting down'
			});
			expect(peer.envelopes.map((message) => message.name)).toEqual([
				'connected',
				'news',
				'news',
				'direct'
			]);
			expect(peer.envelopes.slice(1, 3).map((message) => message.data)).toEqual([
				{ n: 1 },
				{ n: 2 }
			]);
			expect(peer.envelopes[3].data).toBe(peer.id);
		}
		await within(closing, 'close() to resolve', 2_000);
		expect(server.sockets.connections.size).toBe(0);
		await expect(server.sockets.close()).resolves.toBeUndefined();

		// The upgrade listener is gone: the HTTP server answers the request itself (the helper's 404).
		const afterwards = await RawClient.connect(server.port);
		expect(afterwards.status).not.toBe(101);
		expect(afterwards.status).toBe(404);

		// Upgrades handed to the closed server directly are refused with 503.
		const direct = createServer((_request, response) => response.writeHead(404).end());
		direct.on(
			'upgrade',
			(request, socket, head) => void server.sockets.handleUpgrade(request, socket, head)
		);
		await new Promise<void>((resolve) => direct.listen(0, '127.0.0.1', resolve));
		try {
			const refused = await RawClient.connect((direct.address() as AddressInfo).port);
			expect(refused.status).toBe(503);
		} finally {
			direct.closeAllConnections();
			await new Promise<void>((resolve) => direct.close(() => resolve()));
		}

		// And once the HTTP server is closed, nothing answers at all.
		await server.stop();
		expect((await connectionError(server.url())).code).toBe('ECONNREFUSED');
	});

	it('drops a client that never completes the close handshake, and still resolves', async () => {
		const order = new EventLog<string>();
		const server = await serve({ onClose: (_connection, code) => order.push(`onClose ${code}`) });
		const polite = await Peer.open(server.url());
		const stuck = await RawClient.connect(server.port);
		await stuck.waitForText((text) => text.includes('"connected"'), 'connected');
		stuck.pause();
		expect(server.sockets.connections.size).toBe(2);

		// The server's timers run on a fake clock from here: only the close-handshake timer, fired when
		// the test moves the clock, can drop the stuck client (ws alone would wait 30 s), whatever the
		// machine's speed.
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		let resolved = false;
		const closing = server.sockets.close().then(() => {
			resolved = true;
			order.push(`resolved with ${server.sockets.connections.size} connections`);
		});
		try {
			expect((await within(polite.closed, 'the polite client 1001')).code).toBe(1001);
			await vi.advanceTimersByTimeAsync(2_999);
			// While close() waits for the stuck client, new upgrades are refused (and this round trip
			// gives a drop that came too early the time to show).
			const during = await RawClient.connect(server.port);
			expect(during.status).not.toBe(101);
			expect(resolved).toBe(false);
			expect(server.sockets.connections.size).toBe(1);
			// A peer that does not answer the close frame is dropped after 3 s (documented).
			await vi.advanceTimersByTimeAsync(1);
		} finally {
			vi.useRealTimers();
		}
		await within(closing, 'close() to resolve once the stuck client is dropped');
		// The dropped connection is gone (and its onClose ran) by the time close() resolved.
		await order.waitFor((event) => event == 'onClose 1006', 'onClose of the dropped client');
		expect(order.items.filter((event) => event.startsWith('onClose'))).toEqual([
			'onClose 1001',
			'onClose 1006'
		]);
		expect(server.sockets.connections.size).toBe(0);

		// The stuck client's kernel buffer held the 1001 close frame; then the server hung up.
		stuck.resume();
		await within(stuck.ended, 'the stuck client to see the connection end');
		expect(await stuck.waitForClose()).toEqual({ code: 1001, reason: 'Server shutting down' });
	}, 15_000);

	// close() waits for every connection to be gone, dropped ones included, before closing the engine:
	// no onClose and no engine.unsubscribe may come after it resolved.
	it('close() resolves only after a dropped connection is gone', async () => {
		const order = new EventLog<string>();
		const server = await serve(
			{ onClose: (_connection, code) => order.push(`onClose ${code}`) },
			{ engine: new StubEngine((call) => order.push(call)) }
		);
		const stuck = await RawClient.connect(server.port);
		await stuck.waitForText((text) => text.includes('"connected"'), 'connected');
		stuck.sendText({ name: 'room.join', data: { room: 'feed' } });
		await stuck.waitForText((text) => text.includes('"room.joined"'), 'room.joined');
		stuck.pause();
		await within(
			server.sockets
				.close()
				.then(() =>
					order.push(`close() resolved, ${server.sockets.connections.size} connection(s) left`)
				),
			'close()',
			8_000
		);
		await order.waitFor((event) => event == 'onClose 1006', 'onClose of the dropped client');
		await order.waitFor((event) => event == 'engine.unsubscribe feed', 'the room unsubscribed');
		// Observed today: subscribe * → subscribe feed → engine.close → close() resolved, 1
		// connection(s) left → onClose 1006 → engine.unsubscribe feed.
		expect(order.items, order.items.join(' → ')).toHaveLength(6);
		expect(order.items.slice(-2), order.items.join(' → ')).toEqual([
			'engine.close',
			'close() resolved, 0 connection(s) left'
		]);
	}, 15_000);
});
