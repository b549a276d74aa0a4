// permessage-deflate.
import { randomBytes } from 'node:crypto';
import { constants as zlib, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { ClientMessage } from '../../src/lib/index.js';
import { parseEnvelope, Peer, serve, withEcho } from '../kit/limits.js';
import { Opcode, RawClient } from '../kit/peers/raw-frames.js';

describe('compression', () => {
	const Big = ClientMessage.define<{ seq: number; text: string }>('big');
	/** 40 000 base64 characters of noise: compressible only so far, and no two messages alike. */
	const noise = randomBytes(30_000).toString('base64');
	/** Half compressible, half not, so a corrupted inflate cannot pass by accident. */
	const bigText = (seq: number) =>
		`${seq}:`.padEnd(40_000, 'abcdefgh') + noise.slice(seq * 7) + noise.slice(0, seq * 7);

	it('is off by default even when the client offers permessage-deflate', async () => {
		const server = await serve();
		withEcho(server);
		const peer = await Peer.open(server.url(), { perMessageDeflate: true });
		expect(peer.upgradeHeaders['sec-websocket-extensions'] ?? '').not.toContain(
			'permessage-deflate'
		);
		expect(peer.ws.extensions).toBe('');
		const raw = await RawClient.connect(server.port, {
			headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; client_max_window_bits' }
		});
		expect(raw.status).toBe(101);
		expect(raw.headers['sec-websocket-extensions']).toBeUndefined();
		await raw.waitForText((text) => text.includes('"connected"'), 'connected');
		expect(raw.frames.items.every((frame) => !frame.rsv1)).toBe(true);
		expect((await peer.request('echo', 'plain', 1)).data).toBe('plain');
	});

	it('negotiates with compression enabled: large messages arrive intact and compressed on the wire', async () => {
		const server = await serve({ compression: { enabled: true, threshold: 16 } });
		withEcho(server);
		const peer = await Peer.open(server.url(), { perMessageDeflate: true });
		expect(peer.upgradeHeaders['sec-websocket-extensions']).toContain('permessage-deflate');
		expect(peer.ws.extensions).toContain('permessage-deflate');

		// Inbound compressed (the client deflates) and outbound compressed, 40 KiB each way.
		const text = bigText(0).slice(0, 40_000);
		expect((await peer.request('echo', text, 1)).data).toBe(text);
		await server.sockets.publish(Big, { seq: 1, text: bigText(1) });
		const big = await peer.envelope((message) => message.name == 'big', 'the big message');
		expect(big.data).toEqual({ seq: 1, text: bigText(1) });

		// On the wire: RSV1 set on messages at or over the threshold, and the bytes inflate to the JSON.
		const raw = await RawClient.connect(server.port, {
			headers: { 'Sec-WebSocket-Extensions': 'permessage-deflate; server_no_context_takeover' }
		});
		expect(raw.headers['sec-websocket-extensions']).toContain('permessage-deflate');
		expect(raw.headers['sec-websocket-extensions']).toContain('server_no_context_takeover');
		await raw.frames.waitFor((frame) => frame.opcode == Opcode.Text, 'connected');
		raw.sendText('2');
		const pong = await raw.frames.waitFor(
			(frame) => frame.opcode == Opcode.Text && !frame.rsv1 && frame.payload.toString() == '3',
			'an uncompressed "3" (1 byte is under the threshold)'
		);
		expect(pong.rsv1).toBe(false);
		await server.sockets.publish(Big, { seq: 2, text: bigText(2) });
		const compressed = await raw.frames.waitFor(
			(frame) => frame.opcode == Opcode.Text && frame.rsv1 && frame.payload.length > 1_000,
			'the compressed big message'
		);
		const inflated = inflateRawSync(
			Buffer.concat([compressed.payload, Buffer.from([0x00, 0x00, 0xff, 0xff])]),
			{ finishFlush: zlib.Z_SYNC_FLUSH }
		).toString();
		const envelope = parseEnvelope(inflated)!;
		expect(envelope.data).toEqual({ seq: 2, text: bigText(2) });
		expect(compressed.payload.length).toBeLessThan(inflated.length * 0.75);
		console.info(
			`[compression] a ${inflated.length} B message went over the wire as ${compressed.payload.length} B`
		);
	});

	it('delivers one broadcast correctly to compressing and non-compressing clients alike', async () => {
		const Shout = ClientMessage.define<string>('shout');
		const server = await serve({ compression: { enabled: true, threshold: 16 } });
		server.sockets.on(Shout, async (connection, data, reply) => {
			await connection.broadcast(
				{ name: 'shouted', data, timestamp: Date.now() },
				{ includeSelf: true }
			);
			reply(null);
		});
		const deflating = await Peer.open(server.url(), { perMessageDeflate: true });
		const plain = await Peer.open(server.url(), { perMessageDeflate: false });
		expect(deflating.ws.extensions).toContain('permessage-deflate');
		expect(plain.ws.extensions).toBe('');
		expect(plain.upgradeHeaders['sec-websocket-extensions']).toBeUndefined();

		for (let seq = 1; seq <= 3; seq++)
			await server.sockets.publish(Big, { seq, text: bigText(seq) });
		const shout = bigText(9).slice(0, 50_000);
		expect((await plain.request('shout', shout, 1)).name).toBe('reply');

		for (const peer of [deflating, plain]) {
			const received = await peer.frames.waitForCount(
				4,
				(frame) => ['big', 'shouted'].includes(parseEnvelope(frame)?.name ?? ''),
				'3 big messages and the shout'
			);
			const messages = received.map((frame) => parseEnvelope(frame)!);
			expect(messages.slice(0, 3).map((message) => message.data)).toEqual(
				[1, 2, 3].map((seq) => ({ seq, text: bigText(seq) }))
			);
			expect(messages[3]).toMatchObject({ name: 'shouted', data: shout });
		}
		// Both received byte-identical frames.
		const bigOnes = (peer: Peer) =>
			peer.frames.items.filter((frame) =>
				['big', 'shouted'].includes(parseEnvelope(frame)?.name ?? '')
			);
		expect(bigOnes(deflating)).toEqual(bigOnes(plain));
	});
});
