/**
 * fast-check arbitraries for WebSocket frames as a hostile client writes them: any opcode
 * (reserved ones too), FIN and RSV1 in any combination, unmasked frames, control frames with odd
 * payloads, invalid UTF-8, and lengths past the route's `maxPayload`.
 */
import fc from 'fast-check';
import { oddText, envelope } from './fuzz-json.js';
import { encodeFrame, Opcode } from '../peers/raw-frames.js';

/** Largest inbound frame of the fixture's routes (the default `maxPayload`). */
export const MAX_PAYLOAD = 64 * 1024;

/** One frame, described (so a failing case prints readably) and encodable. */
export interface FuzzFrame {
	readonly opcode: number;
	readonly payload: Uint8Array;
	readonly fin: boolean;
	readonly rsv1: boolean;
	readonly mask: boolean;
}

/** Byte sequences no UTF-8 decoder may accept. */
export const INVALID_UTF8: readonly (readonly number[])[] = [
	[0x80],
	[0xbf],
	[0xc0, 0xaf],
	[0xe0, 0x80, 0xaf],
	[0xed, 0xa0, 0x80],
	[0xf4, 0x90, 0x80, 0x80],
	[0xf5, 0x80, 0x80, 0x80],
	[0xff],
	[0xfe],
	[0xe2, 0x82]
];

/** Text that is not valid UTF-8: valid text around one invalid sequence. */
export const invalidUtf8: fc.Arbitrary<Uint8Array> = fc
	.tuple(
		fc.string({ maxLength: 20 }),
		fc.constantFrom(...INVALID_UTF8),
		fc.string({ maxLength: 20 })
	)
	.map(
		([before, bad, after]) =>
			new Uint8Array(Buffer.concat([Buffer.from(before), Buffer.from(bad), Buffer.from(after)]))
	);

const utf8 = (text: string) => new Uint8Array(Buffer.from(text));

/** Close frame payloads: none, one byte, valid and invalid codes, odd reasons. */
export const closePayload: fc.Arbitrary<Uint8Array> = fc.oneof(
	fc.constant(new Uint8Array()),
	fc.uint8Array({ minLength: 1, maxLength: 1 }),
	fc
		.tuple(
			fc.oneof(
				fc.constantFrom(
					0,
					999,
					1000,
					1001,
					1004,
					1005,
					1006,
					1012,
					1015,
					1016,
					2999,
					3000,
					4999,
					5000
				),
				fc.integer({ min: 0, max: 0xffff })
			),
			fc.oneof(
				fc.string({ maxLength: 30 }).map(utf8),
				invalidUtf8,
				fc.uint8Array({ maxLength: 123 })
			)
		)
		.map(([code, reason]) => {
			const payload = Buffer.alloc(2 + reason.length);
			payload.writeUInt16BE(code, 0);
			Buffer.from(reason).copy(payload, 2);
			return new Uint8Array(payload);
		})
);

/** Payloads of every kind: protocol-shaped text, random text and bytes, invalid UTF-8, big ones. */
const payload: fc.Arbitrary<Uint8Array> = fc.oneof(
	{ weight: 4, arbitrary: envelope.map((message) => utf8(message.text('1'))) },
	{ weight: 3, arbitrary: oddText.map(utf8) },
	{ weight: 2, arbitrary: fc.uint8Array({ maxLength: 200 }) },
	{ weight: 1, arbitrary: invalidUtf8 },
	{ weight: 1, arbitrary: closePayload },
	{
		weight: 1,
		arbitrary: fc
			.integer({ min: MAX_PAYLOAD - 16, max: MAX_PAYLOAD + 16 })
			.map((length) => new Uint8Array(Buffer.alloc(length, 0x61)))
	}
);

/** Any frame: mostly data frames, now and then control, reserved, unmasked or RSV1 ones. */
export const anyFrame: fc.Arbitrary<FuzzFrame> = fc.record({
	opcode: fc.oneof(
		{ weight: 8, arbitrary: fc.constant(Opcode.Text) },
		{ weight: 2, arbitrary: fc.constant(Opcode.Binary) },
		{ weight: 2, arbitrary: fc.constant(Opcode.Continuation) },
		{ weight: 2, arbitrary: fc.constantFrom(Opcode.Ping, Opcode.Pong) },
		{ weight: 1, arbitrary: fc.constant(Opcode.Close) },
		{ weight: 1, arbitrary: fc.constantFrom(0x3, 0x4, 0x5, 0x6, 0x7, 0xb, 0xc, 0xd, 0xe, 0xf) }
	),
	payload,
	fin: fc.oneof(
		{ weight: 9, arbitrary: fc.constant(true) },
		{ weight: 1, arbitrary: fc.constant(false) }
	),
	rsv1: fc.oneof(
		{ weight: 19, arbitrary: fc.constant(false) },
		{ weight: 1, arbitrary: fc.constant(true) }
	),
	mask: fc.oneof(
		{ weight: 19, arbitrary: fc.constant(true) },
		{ weight: 1, arbitrary: fc.constant(false) }
	)
});

/** Encodes a fuzz frame as the bytes on the wire. */
export function encode(frame: FuzzFrame): Buffer {
	return encodeFrame(frame.opcode, Buffer.from(frame.payload), frame);
}

/**
 * A frame header announcing `length` payload bytes (none of them sent): 64-bit lengths up to
 * 2^63 − 1, which no server may try to buffer.
 *
 * @example
 * ```ts
 * socket.write(oversizeHeader(Opcode.Text, 2n ** 40n));
 * ```
 */
export function oversizeHeader(opcode: number, length: bigint): Buffer {
	const header = Buffer.alloc(14);
	header[0] = 0x80 | opcode;
	header[1] = 0x80 | 127;
	header.writeBigUInt64BE(length, 2);
	return header;
}

/** Splits `bytes` into `parts` fragments (text first, continuations after) as encoded frames. */
export function fragments(opcode: number, bytes: Buffer, cuts: readonly number[]): Buffer[] {
	const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
	const pieces: Buffer[] = [];
	let start = 0;
	for (const point of [...points, bytes.length]) {
		pieces.push(bytes.subarray(start, point));
		start = point;
	}
	return pieces.map((piece, index) =>
		encodeFrame(index == 0 ? opcode : Opcode.Continuation, piece, {
			fin: index == pieces.length - 1
		})
	);
}
