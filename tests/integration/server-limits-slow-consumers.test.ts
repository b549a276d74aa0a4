// Clients that stop reading: dropped once their backlog passes maxBufferedBytes, readers untouched.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ClientMessage } from '../../src/lib/index.js';
import { parseEnvelope, Peer, serve, connectionOf } from '../kit/limits.js';
import { RawClient } from '../kit/peers/raw-frames.js';
import { within } from '../kit/wait.js';

describe('slow consumer', () => {
	it('drops a client that stops reading once maxBufferedBytes is exceeded; readers keep everything', async () => {
		const cap = 64 * 1024;
		const Tick = ClientMessage.define<{ seq: number; blob: string }>('tick');
		const server = await serve({ maxBufferedBytes: cap });
		const reader = await Peer.open(server.url());
		await reader.join('feed');

		const slow = await RawClient.connect(server.port);
		expect(slow.status).toBe(101);
		const connected = parseEnvelope(
			await slow.waitForText((text) => text.includes('"connected"'), 'connected')
		)!;
		slow.sendText({ name: 'room.join', data: { room: 'feed' } });
		await slow.waitForText((text) => text.includes('"room.joined"'), 'room.joined');
		slow.pause();
		const slowConnection = connectionOf(server, (connected.data as { id: string }).id);
		const readerConnection = connectionOf(server, reader.id);

		const blob = randomBytes(12 * 1024).toString('base64'); // 16 KiB of JSON-safe text
		const messageBytes = Buffer.byteLength(
			JSON.stringify(['tick', { seq: 0, blob }, 'feed', 1_000, 'epoch-8c'])
		);
		let maxBuffered = 0;
		let lastBufferedWhileOpen = 0;
		let maxReaderBuffered = 0;
		let published = 0;
		const sample = () => {
			if (slowConnection.isOpen) lastBufferedWhileOpen = slowConnection.bufferedBytes;
			maxBuffered = Math.max(maxBuffered, slowConnection.bufferedBytes);
			maxReaderBuffered = Math.max(maxReaderBuffered, readerConnection.bufferedBytes);
		};
		// Publish one message at a time and wait until the reader has it: the reader never lags, the
		// paused client's kernel buffers fill, then the server's own buffer grows up to the cap.
		for (let seq = 0; seq < 5_000 && slowConnection.isOpen; seq++) {
			const from = reader.frames.items.length;
			await server.sockets.publish(Tick, { seq, blob }, { room: 'feed' });
			sample(); // queued in the outbox, not yet written
			published++;
			await reader.frames.waitFor(
				(frame) => frame.startsWith(`["tick",{"seq":${seq},`),
				`tick ${seq} at the reader`,
				5_000,
				from
			);
			sample(); // written: what the kernel did not take is in the socket's buffer
		}
		expect(slowConnection.isOpen).toBe(false);
		expect(slowConnection.closeCodeDecided).toBe(1013);
		const droppedAfter = Date.now();
		await within(slowConnection.closed, 'the slow consumer to be dropped', 3_000);
		const dropMs = Date.now() - droppedAfter;

		// Readers are untouched: every tick so far, and every later one. (One at a time: five 16 KiB
		// messages published in one event-loop turn are 80 KiB queued at once, over the 64 KiB cap,
		// which would close even this reader.)
		for (let seq = published; seq < published + 5; seq++) {
			const from = reader.frames.items.length;
			await server.sockets.publish(Tick, { seq, blob }, { room: 'feed' });
			await reader.frames.waitFor(
				(frame) => frame.startsWith(`["tick",{"seq":${seq},`),
				`tick ${seq} at the reader`,
				5_000,
				from
			);
		}
		const ticks = await reader.frames.waitForCount(
			published + 5,
			(frame) => frame.startsWith('["tick",'),
			'every tick at the reader'
		);
		expect(ticks.map((frame) => (parseEnvelope(frame)!.data as { seq: number }).seq)).toEqual(
			Array.from({ length: published + 5 }, (_, seq) => seq)
		);
		expect(reader.isOpen).toBe(true);
		expect(server.sockets.connections.size).toBe(1);

		// The server never held more than the cap plus one message (plus frame headers).
		expect(maxBuffered).toBeLessThanOrEqual(cap + messageBytes + 64);
		expect(lastBufferedWhileOpen).toBeGreaterThan(cap - messageBytes);
		expect(maxReaderBuffered).toBeLessThanOrEqual(cap);

		// What the slow client gets when it reads again: what the kernel held, then the end.
		slow.resume();
		await within(slow.ended, 'the slow client to see the end of the connection');
		const slowTicks = slow.texts.filter((text) => text.startsWith('["tick",')).length;
		const closeFrame = await slow.waitForClose();
		console.info(
			`[slow consumer] message ${messageBytes} B, cap ${cap} B; dropped after ${published} messages ` +
				`(${published * messageBytes} B published); bufferedBytes max ${maxBuffered} B, last while open ` +
				`${lastBufferedWhileOpen} B; reader max ${maxReaderBuffered} B; closed ${dropMs} ms after the ` +
				`1013 decision; the paused client later read ${slowTicks} ticks (${slow.bytesReceived} B) and ` +
				`${closeFrame ? `a close frame ${closeFrame.code} ${closeFrame.reason}` : 'no close frame'}`
		);
		expect(slowTicks).toBeLessThan(published);
		// It read again only after the server had dropped it: the close frame, behind what the kernel
		// held, was usually lost with the socket (the decision itself is checked above).
		if (closeFrame) expect(closeFrame).toEqual({ code: 1013, reason: 'Slow consumer' });
	});

	// What is queued in the current turn is not a backlog: an app that publishes more than
	// maxBufferedBytes in one turn (`for (…) await server.publish(…)` never leaves the turn) must not
	// drop clients that read fine. The outbox flushes and judges again before closing.
	it('does not drop a reader that keeps up when one turn publishes over the cap', async () => {
		const Tick = ClientMessage.define<{ seq: number; blob: string }>('tick');
		const server = await serve({ maxBufferedBytes: 64 * 1024 });
		const reader = await Peer.open(server.url());
		const blob = 'x'.repeat(16 * 1024);
		// 8 × 16 KiB = 128 KiB in one turn, nothing the kernel could not take at once.
		for (let seq = 0; seq < 8; seq++) await server.sockets.publish(Tick, { seq, blob });
		const outcome = await reader.frames.until(() => {
			const ticks = reader.frames.items.filter((frame) => frame.startsWith('{"name":"tick"'));
			if (ticks.length == 8) return 'all 8 ticks';
			if (reader.closedWith) {
				return `closed ${reader.closedWith.code} ${reader.closedWith.reason} after ${ticks.length} ticks`;
			}
			return undefined;
		}, 'all ticks or the close');
		expect(outcome).toBe('all 8 ticks');
		expect(reader.isOpen).toBe(true);
	});
});
