/**
 * Property-based fuzzing of the frame level with fast-check: every run opens a raw TCP connection
 * to the hardening server (a child process) and writes frames no well-behaved client would. Per
 * run: the connection is still served (a probe request is answered) or closed with a documented
 * code, and nothing the server sent breaks the protocol. Per property (as one attack): the server
 * alive, the well-behaved client lost nothing, no stall over 50 ms.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scaled } from '../../kit/attack/attack.js';
import {
	anyFrame,
	closePayload,
	encode,
	fragments,
	invalidUtf8,
	MAX_PAYLOAD,
	oversizeHeader
} from '../../kit/fuzz/fuzz-frames.js';
import { expectedEcho, valueText } from '../../kit/fuzz/fuzz-json.js';
import {
	freshId,
	FUZZ_BUDGET_MS,
	fuzzUnderAttack,
	FuzzSession,
	type FuzzTarget
} from '../../kit/fuzz/fuzz-session.js';
import { useHardeningServer } from '../../kit/servers/hardening-server-process.js';
import { encodeFrame, Opcode } from '../../kit/peers/raw-frames.js';

const server = useHardeningServer();
const TEST_MS = FUZZ_BUDGET_MS + 30_000;

/** Runs one fuzz property against this file's server, as an attack. */
function fuzz<Values extends unknown[]>(
	attack: string,
	property: fc.IAsyncProperty<Values>,
	runs?: number
): Promise<void> {
	return fuzzUnderAttack(server(), attack, property, runs);
}

/**
 * Opens a session, runs `body`, destroys the session whatever happened. Once the server died it
 * does nothing, so fast-check reports the input that killed it rather than shrinking against a
 * dead server (the attack's outcome reports the crash).
 */
async function withSession(
	target: FuzzTarget,
	body: (session: FuzzSession) => Promise<void>
): Promise<void> {
	if (!server().alive) return;
	const session = await FuzzSession.open(server().port, target);
	try {
		await body(session);
	} finally {
		session.destroy();
	}
}

/** What the server must answer a close frame with `payload` (RFC 6455 §5.5.1, §7.4). */
function closeAnswerTo(payload: Uint8Array): number {
	if (payload.length == 0) return 1005;
	if (payload.length == 1 || payload.length > 125) return 1002;
	const code = Buffer.from(payload).readUInt16BE(0);
	const valid =
		(code >= 1000 && code <= 1014 && ![1004, 1005, 1006].includes(code)) ||
		(code >= 3000 && code <= 4999);
	if (!valid) return 1002;
	try {
		new TextDecoder('utf-8', { fatal: true }).decode(payload.subarray(2));
	} catch {
		return 1007;
	}
	return code;
}

const target = fc.constantFrom<FuzzTarget>('open', 'signed-in', 'before-auth');

describe('frame-level fuzzing', () => {
	it(
		'any frames: the connection is served or closed with a documented code',
		async () => {
			await fuzz(
				'fuzz: arbitrary frame sequences',
				fc.asyncProperty(
					target,
					fc.array(anyFrame, { minLength: 1, maxLength: 8 }),
					fc.boolean(),
					(where, frames, oneWrite) =>
						withSession(where, async (session) => {
							for (const frame of frames.filter((item) => item.opcode == Opcode.Close)) {
								session.ownCloseCodes.add(closeAnswerTo(frame.payload));
							}
							const encoded = frames.map(encode);
							if (oneWrite) session.write(Buffer.concat(encoded), encoded.length);
							else for (const bytes of encoded) session.write(bytes, 1);
							const verdict = await session.verdict();
							expect(['answered', 'closed'], JSON.stringify(verdict)).toContain(verdict.kind);
							expect(session.problems()).toEqual([]);
						})
				)
			);
		},
		TEST_MS
	);

	it(
		'random bytes after the handshake, then FIN: the server ends the connection',
		async () => {
			await fuzz(
				'fuzz: random bytes on the socket',
				fc.asyncProperty(target, fc.uint8Array({ minLength: 1, maxLength: 300 }), (where, bytes) =>
					withSession(where, async (session) => {
						session.write(Buffer.from(bytes), 1);
						session.client.socket.end();
						await Promise.race([
							session.client.ended,
							new Promise((resolve) => setTimeout(resolve, 5_000))
						]);
						expect(session.client.isClosed, 'the server ended the connection').toBe(true);
						expect(session.problems()).toEqual([]);
					})
				)
			);
		},
		TEST_MS
	);

	it(
		'invalid UTF-8, whole or fragmented, closes with 1007',
		async () => {
			await fuzz(
				'fuzz: invalid UTF-8',
				fc.asyncProperty(
					target,
					invalidUtf8,
					fc.array(fc.nat(), { maxLength: 3 }),
					(where, bytes, cuts) =>
						withSession(where == 'before-auth' ? 'open' : where, async (session) => {
							const frames = fragments(Opcode.Text, Buffer.from(bytes), cuts);
							session.write(Buffer.concat(frames), frames.length);
							expect(await session.verdict()).toMatchObject({ kind: 'closed', code: 1007 });
							expect(session.problems()).toEqual([]);
						})
				)
			);
		},
		TEST_MS
	);

	it(
		'frames and messages past maxPayload close with 1009, however they are announced',
		async () => {
			const oversize = fc.oneof(
				fc
					.bigInt({ min: BigInt(MAX_PAYLOAD + 1), max: 2n ** 63n - 1n })
					.map((length) => ({ kind: 'announced', length: String(length), pieces: 1 })),
				fc
					.integer({ min: MAX_PAYLOAD + 1, max: MAX_PAYLOAD + 4_096 })
					.map((length) => ({ kind: 'sent', length: String(length), pieces: 1 })),
				fc
					.integer({ min: 2, max: 6 })
					.map((pieces) => ({ kind: 'fragmented', length: String(MAX_PAYLOAD + 1), pieces }))
			);
			await fuzz(
				'fuzz: oversize frames',
				fc.asyncProperty(
					fc.constantFrom<FuzzTarget>('open', 'signed-in'),
					oversize,
					fc.constantFrom(Opcode.Text, Opcode.Binary),
					(where, { kind, length, pieces }, opcode) =>
						withSession(where, async (session) => {
							if (kind == 'announced') session.write(oversizeHeader(opcode, BigInt(length)), 1);
							else {
								const bytes = Buffer.alloc(Number(length), 0x61);
								const cuts = Array.from({ length: pieces - 1 }, (_, index) =>
									Math.floor(((index + 1) * bytes.length) / pieces)
								);
								const frames = fragments(opcode, bytes, cuts);
								session.write(Buffer.concat(frames), frames.length);
							}
							expect(await session.verdict()).toMatchObject({ kind: 'closed', code: 1009 });
							expect(session.problems()).toEqual([]);
						})
				),
				scaled(60, 600)
			);
		},
		TEST_MS
	);

	it(
		'control frames: pings get their payload back, odd pings and closes get RFC 6455 answers',
		async () => {
			const control = fc.oneof(
				fc
					.uint8Array({ maxLength: 125 })
					.map((payload) => ({ opcode: Opcode.Ping, payload, fin: true })),
				fc
					.uint8Array({ minLength: 126, maxLength: 300 })
					.map((payload) => ({ opcode: Opcode.Ping, payload, fin: true })),
				fc
					.uint8Array({ maxLength: 20 })
					.map((payload) => ({ opcode: Opcode.Ping, payload, fin: false })),
				closePayload.map((payload) => ({ opcode: Opcode.Close, payload, fin: true }))
			);
			await fuzz(
				'fuzz: control frames',
				fc.asyncProperty(
					fc.constantFrom<FuzzTarget>('open', 'signed-in'),
					control,
					(where, { opcode, payload, fin }) =>
						withSession(where, async (session) => {
							session.send(opcode, Buffer.from(payload), { fin });
							if (opcode == Opcode.Close) {
								const expected = closeAnswerTo(payload);
								session.ownCloseCodes.add(expected);
								await session.client.frames.waitFor(
									(frame) => frame.opcode == Opcode.Close,
									'the close answer'
								);
								expect(session.close?.code).toBe(expected);
							} else if (payload.length > 125 || !fin) {
								expect(await session.verdict()).toMatchObject({ kind: 'closed', code: 1002 });
							} else {
								const pong = await session.client.frames.waitFor(
									(frame) => frame.opcode == Opcode.Pong,
									'a pong'
								);
								expect(Buffer.from(pong.payload).equals(Buffer.from(payload))).toBe(true);
								expect(await session.verdict()).toMatchObject({ kind: 'answered' });
							}
							expect(session.problems()).toEqual([]);
						})
				)
			);
		},
		TEST_MS
	);

	it(
		'a message in fragments, control frames in between, arrives whole',
		async () => {
			await fuzz(
				'fuzz: fragmented messages',
				fc.asyncProperty(
					fc.constantFrom<FuzzTarget>('open', 'signed-in'),
					valueText,
					fc.array(fc.nat(), { maxLength: 6 }),
					fc.array(fc.uint8Array({ maxLength: 125 }), { maxLength: 3 }),
					(where, data, cuts, pings) =>
						withSession(where, async (session) => {
							const id = freshId();
							const text = Buffer.from(`{"name":"echo","data":${data},"id":${id}}`);
							fc.pre(text.length <= MAX_PAYLOAD);
							const frames = fragments(Opcode.Text, text, cuts);
							// Control frames may come between the fragments of a message (RFC 6455 §5.4).
							const interleaved = frames.flatMap((frame, index) =>
								index < pings.length
									? [frame, encodeFrame(Opcode.Ping, Buffer.from(pings[index]))]
									: [frame]
							);
							session.write(Buffer.concat(interleaved), interleaved.length);
							await session.answered([id]);
							const [answer] = session.answersTo(id);
							expect(answer?.name, JSON.stringify(answer)).toBe('reply');
							expect(answer.data).toEqual(expectedEcho(data));
							expect(session.problems()).toEqual([]);
						})
				)
			);
		},
		TEST_MS
	);
});
