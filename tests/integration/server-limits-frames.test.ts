// What the server does with frames no client may send: over maxPayload, breaking RFC 6455, malformed.
import { describe, expect, it } from 'vitest';
import { errorData, Peer, serve, withEcho, measureFrame } from '../kit/limits.js';
import { Opcode, RawClient } from '../kit/peers/raw-frames.js';
import { within } from '../kit/wait.js';

describe('maxPayload', () => {
	it('accepts a 64 KiB frame by default (the limit itself) and closes with 1009 on a byte more', async () => {
		const errors: Error[] = [];
		const server = await serve({ onError: (_connection, error) => errors.push(error) });
		withEcho(server);
		const limit = 64 * 1024;

		const fits = await Peer.open(server.url());
		fits.send(measureFrame(limit, 1));
		const answer = await fits.answer(1);
		expect(answer.name).toBe('reply');
		expect(answer.data).toEqual({
			length: limit - JSON.stringify({ name: 'measure', data: '', id: 1 }).length
		});
		await fits.roundTrip();
		expect(fits.isOpen).toBe(true);

		const tooBig = await Peer.open(server.url());
		tooBig.send(measureFrame(limit + 1, 1));
		const closed = await within(tooBig.closed, 'the 1009 close');
		expect(closed.code).toBe(1009);
		expect(tooBig.envelopes.some((message) => message.name == 'reply')).toBe(false);
		// The other connection is unaffected.
		await fits.roundTrip();
		expect(errors.map((error) => error.message)).toEqual(['Max payload size exceeded']);
	});

	it('honours a custom small maxPayload, also across fragments of one message', async () => {
		const server = await serve({ maxPayload: 1024, onError: () => {} });
		withEcho(server);

		const fits = await Peer.open(server.url());
		fits.send(measureFrame(1024, 1));
		expect((await fits.answer(1)).name).toBe('reply');

		const tooBig = await Peer.open(server.url());
		tooBig.send(measureFrame(1025, 1));
		expect((await within(tooBig.closed, 'the 1009 close')).code).toBe(1009);

		// Two 600-byte fragments: each fits, the message (1 200 bytes) does not.
		const raw = await RawClient.connect(server.port);
		expect(raw.status).toBe(101);
		await raw.waitForText((text) => text.includes('"connected"'), 'connected');
		const frame = measureFrame(1200, 2);
		raw.send(Opcode.Text, frame.slice(0, 600), { fin: false });
		raw.send(Opcode.Continuation, frame.slice(600), { fin: true });
		expect(await raw.waitForClose()).toEqual({ code: 1009, reason: '' });
		expect(raw.texts.some((text) => text.includes('"reply"'))).toBe(false);
	});
});

describe('frames that break RFC 6455', () => {
	it('closes with 1007 on a text frame that is not valid UTF-8', async () => {
		const errors: Error[] = [];
		const closes: number[] = [];
		const server = await serve({
			onError: (_connection, error) => errors.push(error),
			onClose: (_connection, code) => closes.push(code)
		});
		withEcho(server);
		const raw = await RawClient.connect(server.port);
		expect(raw.status).toBe(101);
		await raw.waitForText((text) => text.includes('"connected"'), 'connected');
		// A valid request first, so the handshake and masking are known to be right.
		raw.sendText({ name: 'echo', data: 'ok', id: 1 });
		await raw.waitForText((text) => text.includes('"reply"'), 'the echo reply');

		// `{"name":"echo","data":"` + 0xff 0xfe (never valid in UTF-8) + `"}`
		const invalid = Buffer.concat([
			Buffer.from('{"name":"echo","data":"'),
			Buffer.from([0xff, 0xfe]),
			Buffer.from('","id":2}')
		]);
		raw.send(Opcode.Text, invalid);
		const close = await raw.waitForClose();
		expect(close?.code).toBe(1007);
		expect(raw.texts.filter((text) => text.includes('"reply"'))).toHaveLength(1);
		expect(errors.map((error) => (error as NodeJS.ErrnoException).code)).toEqual([
			'WS_ERR_INVALID_UTF8'
		]);
		raw.destroy();
		await within(raw.ended, 'the raw socket to close');
	});

	it('closes with 1002 on an unmasked client frame', async () => {
		const server = await serve({ onError: () => {} });
		const raw = await RawClient.connect(server.port);
		await raw.waitForText((text) => text.includes('"connected"'), 'connected');
		raw.send(Opcode.Text, '{"name":"echo","data":1}', { mask: false });
		expect((await raw.waitForClose())?.code).toBe(1002);
	});
});

describe('malformed frames', () => {
	const cases: [string, (peer: Peer) => void][] = [
		['malformed JSON', (peer) => peer.send('{"name": "echo", "data": ')],
		['a JSON array', (peer) => peer.send('[{"name":"echo","data":1,"id":9}]')],
		['a JSON object without a name', (peer) => peer.send({ data: 1, id: 9 })],
		['a JSON object whose name is not a string', (peer) => peer.send({ name: 42, data: 1 })],
		['a binary frame', (peer) => peer.ws.send(Buffer.from('{"name":"echo"}'), { binary: true })]
	];

	it.each(cases)('%s gets a malformed error and the connection stays open', async (_, sendBad) => {
		const server = await serve();
		withEcho(server);
		const peer = await Peer.open(server.url());
		sendBad(peer);
		const error = await peer.envelope((message) => message.name == 'error', 'the error');
		expect(errorData(error).code).toBe('malformed');
		const reply = await peer.request('echo', { after: 'bad input' }, 1);
		expect(reply).toMatchObject({ name: 'reply', id: 1, data: { after: 'bad input' } });
		expect(peer.isOpen).toBe(true);
		expect(server.sockets.connections.size).toBe(1);
	});
});
