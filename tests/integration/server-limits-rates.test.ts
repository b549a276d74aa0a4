// The per-connection rate limit.
import { describe, expect, it, vi } from 'vitest';
import { ClientMessage } from '../../src/lib/index.js';
import { RateLimiter } from '../../src/lib/server/session/rate-limiter.js';
import { type Envelope, parseEnvelope, errorData, Peer, serve, withEcho } from '../kit/limits.js';
import { encodeFrame, EventLog, Opcode, RawClient } from '../kit/peers/raw-frames.js';
import { within } from '../kit/wait.js';

describe('rate limit', () => {
	const rateLimit = { messagesPerSecond: 5, burst: 5, closeAfter: 10 };
	const isAnswer = (message: Envelope) => message.name == 'reply' || message.name == 'error';
	const isAnswerFrame = (frame: string) => {
		const message = parseEnvelope(frame);
		return message !== undefined && isAnswer(message);
	};

	it('refuses a burst over the limit with rate_limited and keeps the connection open', async () => {
		const server = await serve({ rateLimit });
		withEcho(server);
		const peer = await Peer.open(server.url());
		for (let id = 1; id <= 8; id++) peer.send({ name: 'echo', data: id, id });
		await peer.frames.waitForCount(8, isAnswerFrame, '8 answers');
		const answers = peer.envelopes.filter(isAnswer);
		const replies = answers.filter((message) => message.name == 'reply');
		const refusals = answers.filter((message) => message.name == 'error');
		expect(replies.map((message) => message.id)).toEqual([1, 2, 3, 4, 5]);
		expect(refusals).toHaveLength(3);
		for (const refusal of refusals) expect(errorData(refusal).code).toBe('rate_limited');
		// A heartbeat is a frame like any other: with the bucket still empty, it is refused too.
		peer.send('2');
		await peer.frames.waitForCount(9, isAnswerFrame, 'the refused heartbeat');
		expect(peer.isOpen).toBe(true);
		expect(server.sockets.connections.size).toBe(1);
	});

	// A request is answered exactly once with its id, refusals included: otherwise client.request()
	// could not match the refusal and would wait for its timeout.
	it('answers a rate-limited request with its id', async () => {
		const server = await serve({ rateLimit });
		withEcho(server);
		const peer = await Peer.open(server.url());
		for (let id = 1; id <= 6; id++) peer.send({ name: 'echo', data: id, id });
		const refusal = await peer.envelope((message) => message.name == 'error', 'the refusal');
		expect(errorData(refusal).code).toBe('rate_limited');
		expect(refusal.id).toBe(6);
	});

	it('closes with 1008 after closeAfter refusals in a row', async () => {
		const closes = new EventLog<number>();
		const server = await serve({ rateLimit, onClose: (_connection, code) => closes.push(code) });
		withEcho(server);
		const peer = await Peer.open(server.url());
		for (let id = 1; id <= 30; id++) peer.send({ name: 'echo', data: id, id });
		const closed = await within(peer.closed, 'the 1008 close');
		expect(closed).toEqual({ code: 1008, reason: 'Rate limit exceeded' });
		const refusals = peer.envelopes.filter((message) => message.name == 'error');
		// Refusals 1–9 are answered; the 10th closes.
		expect(refusals).toHaveLength(9);
		for (const refusal of refusals) expect(errorData(refusal).code).toBe('rate_limited');
		// The 5 accepted requests are answered, and before the close frame (issue 17, item 23).
		const replies = peer.envelopes.filter((message) => message.name == 'reply');
		expect(replies.map((message) => message.id)).toEqual([1, 2, 3, 4, 5]);
		expect(await closes.waitFor(() => true, 'onClose')).toBe(1008);
		expect(server.sockets.connections.size).toBe(0);
	});

	// Issue 8, defect 3: one connection sending "2" for 5 s stalled the loop for over 3 s and was
	// never closed, because heartbeats, pings and binary frames skipped the limiter.
	it.each([
		['"2" heartbeats', (peer: Peer) => peer.send('2')],
		['{"type":"ping"} heartbeats', (peer: Peer) => peer.send({ type: 'ping' })],
		['binary frames', (peer: Peer) => peer.ws.send(Buffer.from([1, 2, 3]))],
		['WebSocket pings', (peer: Peer) => peer.ws.ping()]
	])('counts %s against the limit and closes a flood with 1008', async (_kind, sendOne) => {
		const server = await serve({ rateLimit });
		const peer = await Peer.open(server.url());
		for (let count = 0; count < 100; count++) sendOne(peer);
		expect(await within(peer.closed, 'the 1008 close')).toEqual({
			code: 1008,
			reason: 'Rate limit exceeded'
		});
	});

	it('closes a flood that lets some frames through between refusals (not only refusals in a row)', async () => {
		const server = await serve({ rateLimit: { messagesPerSecond: 200, burst: 5, closeAfter: 10 } });
		withEcho(server);
		const peer = await Peer.open(server.url());
		// Twice the allowed rate: about every other frame is refused, never ten in a row.
		const flood = setInterval(() => {
			for (let id = 0; id < 4; id++) peer.send({ name: 'echo', data: id, id });
		}, 10);
		try {
			const closed = await within(peer.closed, 'the 1008 close');
			expect(closed.code).toBe(1008);
		} finally {
			clearInterval(flood);
		}
		expect(peer.envelopes.some((message) => message.name == 'reply')).toBe(true);
	});

	it('forgives refusals once the client went quiet long enough to refill its bucket', () => {
		const limiter = new RateLimiter({ messagesPerSecond: 10, burst: 2, closeAfter: 3 });
		expect([0, 0, 0, 0].map((now) => limiter.take(now))).toEqual([
			'accept',
			'accept',
			'refuse',
			'refuse'
		]);
		// 200 ms refill the bucket of 2: the two refusals are forgiven.
		expect([200, 200, 200, 200].map((now) => limiter.take(now))).toEqual([
			'accept',
			'accept',
			'refuse',
			'refuse'
		]);
		expect(limiter.take(200)).toBe('close');
	});

	// Issue 8, defect 4: frames were parsed before the limiter was asked, and went on being parsed after
	// the 1008 decision until ws's 30 s close timeout.
	it('parses only admitted frames, and nothing once a close is decided', async () => {
		const handled: number[] = [];
		const server = await serve({ rateLimit: { messagesPerSecond: 1, burst: 2, closeAfter: 2 } });
		server.sockets.on(ClientMessage.define<number>('count'), (_connection, data) => {
			handled.push(data);
		});
		const client = await RawClient.connect(server.port);
		await client.waitForText((text) => text.includes('"connected"'), 'connected');
		const parse = vi.spyOn(JSON, 'parse');
		const frames = Array.from({ length: 40 }, (_, index) =>
			encodeFrame(Opcode.Text, JSON.stringify({ name: 'count', data: index }), { mask: true })
		);
		client.socket.write(Buffer.concat(frames));
		expect((await client.waitForClose())?.code).toBe(1008);
		const parsedFrames = parse.mock.calls.filter(([text]) => String(text).includes('"count"'));
		parse.mockRestore();
		expect(parsedFrames).toHaveLength(2);
		expect(handled).toEqual([0, 1]);
		expect(client.texts.filter((text) => text.includes('rate_limited'))).toHaveLength(1);
	});

	it('never limits with rateLimit: false', async () => {
		const server = await serve({ rateLimit: false });
		withEcho(server);
		const peer = await Peer.open(server.url());
		for (let id = 1; id <= 300; id++) peer.send({ name: 'echo', data: id, id });
		await peer.frames.waitForCount(300, isAnswerFrame, '300 answers');
		const answers = peer.envelopes.filter(isAnswer);
		expect(answers.every((message) => message.name == 'reply' && message.data === message.id)).toBe(
			true
		);
		expect(peer.isOpen).toBe(true);
	});
});
