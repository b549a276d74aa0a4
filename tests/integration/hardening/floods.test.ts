/**
 * Floods and heavy inputs against the hardening server (a child process), each while the
 * well-behaved client receives the numbered feed: heartbeat, JSON-ping and binary floods, frames
 * of 64 KiB that are expensive to parse, bursts past the rate limit and senders just above it,
 * readers that never read, publishes too large to send, and thousands of joins. Issue 8, "The
 * suite".
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { expectUnharmed, scaled, underAttack } from '../../kit/attack/attack.js';
import { flood, signIn, textFrame, type FloodResult } from '../../kit/attack/flood.js';
import { HardeningRoute, Token } from '../../kit/servers/hardening-messages.js';
import { useHardeningServer } from '../../kit/servers/hardening-server-process.js';
import { encodeFrame, Opcode, RawClient } from '../../kit/peers/raw-frames.js';
import { within } from '../../kit/wait.js';

const server = useHardeningServer();
const FLOOD_MS = scaled(1_000, 20_000);
/**
 * The heartbeat flood (after auth) and the binary flood (before it) keep writing after their close
 * frame to see the peer dropped; the others leave at once, which keeps `npm test` short.
 */
const LEAVE_AT_CLOSE = { afterCloseMs: 0 };
const TEST_MS = FLOOD_MS + 45_000;
/** The contract: a peer that does not finish the close handshake is dropped within 3 s. */
const TERMINATE_WITHIN_MS = 3_000;
/** Measuring slack on a busy machine, on top of the contract's 3 s. */
const SLACK_MS = 500;
/**
 * How long a heavy flood's last connection may take to be closed: the server reads one frame per
 * turn, and the bucket's 100 accepted frames of 64 KiB each cost a parse (and an echo) first.
 */
const HEAVY_CLOSE_WITHIN_MS = 20_000;
/** Largest inbound frame of the fixture's routes (the default `maxPayload`). */
const MAX_PAYLOAD = 64 * 1024;

/**
 * Every flooding connection was closed with 1008 and, when the flood kept writing after the close
 * frame (`afterCloseMs` not 0), dropped within 3 s of it.
 */
function expectEveryFloodClosed(result: FloodResult, dropped = true): void {
	expect(result.connections.length, 'flooding connections').toBeGreaterThan(0);
	for (const connection of result.connections) {
		expect(connection.outlasted, 'a flooding connection outlasted the flood').toBe(false);
		expect(connection.close?.code, 'the close code of a flooding connection').toBe(1008);
		if (!dropped) continue;
		expect(
			connection.terminatedAfterMs,
			'ms from the close frame to the dropped socket (writing on)'
		).toBeLessThanOrEqual(TERMINATE_WITHIN_MS + SLACK_MS);
	}
}

/** A frame as large as the route takes: `{"name":"echo","data":<data>,"id":1}`, `data` filling the rest. */
function heavyFrame(data: (budget: number) => string, name = 'echo'): Buffer {
	const text = `{"name":"${name}","data":${data(MAX_PAYLOAD - 64)},"id":1}`;
	expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_PAYLOAD);
	return textFrame(text);
}

/** A JSON array of numbers filling about `budget` bytes. */
function numbers(budget: number): string {
	const values: number[] = [];
	for (let length = 2; length < budget - 24; length += 20) values.push(Math.random() * 1e12);
	return JSON.stringify(values);
}

/** JSON objects nested as deep as `budget` bytes of `{"a":…}` allow (too deep for a recursive stringify). */
function nested(budget: number): string {
	const depth = Math.floor((budget - 1) / 6);
	return '{"a":'.repeat(depth) + '0' + '}'.repeat(depth);
}

/** A raw client signed in on the auth route, with the id its `connected` message carried. */
async function signedIn(): Promise<{ client: RawClient; id: string }> {
	const client = await RawClient.connect(server().port, { path: HardeningRoute.auth });
	await signIn(client, Token.good);
	const connected = JSON.parse(
		await client.waitForText((text) => text.includes('"connected"'), 'connected')
	) as { data: { id: string } };
	return { client, id: connected.data.id };
}

/** Sends `room.join` for `room` and waits for its answer. */
async function join(client: RawClient, room: string): Promise<void> {
	client.sendText({ name: 'room.join', data: { room }, id: 1 });
	await client.waitForText((text) => text.includes('"room.joined"'), `the join of ${room}`);
}

describe('floods', () => {
	it(
		'a heartbeat "2" flood is closed with 1008 and harms no one else',
		async () => {
			let result: FloodResult | undefined;
			const outcome = await underAttack(server(), 'heartbeat flood ("2")', async () => {
				result = await flood({
					port: server().port,
					path: HardeningRoute.auth,
					token: Token.good,
					frame: textFrame('2'),
					durationMs: FLOOD_MS
				});
				return result.framesSent;
			});
			expectUnharmed(outcome);
			expectEveryFloodClosed(result!);
		},
		TEST_MS
	);

	it(
		'a {"type":"ping"} flood is closed with 1008 and harms no one else',
		async () => {
			let result: FloodResult | undefined;
			const outcome = await underAttack(server(), 'JSON ping flood ({"type":"ping"})', async () => {
				result = await flood({
					port: server().port,
					path: HardeningRoute.open,
					frame: textFrame('{"type":"ping"}'),
					durationMs: FLOOD_MS,
					...LEAVE_AT_CLOSE
				});
				return result.framesSent;
			});
			expectUnharmed(outcome);
			expectEveryFloodClosed(result!, false);
		},
		TEST_MS
	);

	it(
		'a binary flood before authentication is closed with 1008 and harms no one else',
		async () => {
			let result: FloodResult | undefined;
			const outcome = await underAttack(server(), 'binary flood before auth', async () => {
				result = await flood({
					port: server().port,
					path: HardeningRoute.auth,
					frame: encodeFrame(Opcode.Binary, randomBytes(16)),
					durationMs: FLOOD_MS
				});
				return result.framesSent;
			});
			expectUnharmed(outcome);
			expectEveryFloodClosed(result!);
		},
		TEST_MS
	);

	it(
		'a flood of 64 KiB arrays of numbers is closed with 1008 and harms no one else',
		async () => {
			let result: FloodResult | undefined;
			const outcome = await underAttack(
				server(),
				'heavy frames: 64 KiB number arrays',
				async () => {
					result = await flood({
						port: server().port,
						path: HardeningRoute.open,
						frame: heavyFrame(numbers),
						durationMs: FLOOD_MS,
						closeWithinMs: HEAVY_CLOSE_WITHIN_MS,
						...LEAVE_AT_CLOSE
					});
					return result.framesSent;
				}
			);
			expectUnharmed(outcome);
			expectEveryFloodClosed(result!, false);
		},
		TEST_MS
	);

	it(
		'a flood of 64 KiB deeply nested objects is closed with 1008 and harms no one else',
		async () => {
			let result: FloodResult | undefined;
			const outcome = await underAttack(
				server(),
				'heavy frames: 64 KiB nested objects',
				async () => {
					result = await flood({
						port: server().port,
						path: HardeningRoute.open,
						// Answered by `probe`: echoing data nested this deep overflows the stack on every frame
						// (tested in fuzz-messages); here the cost under test is parsing it.
						frame: heavyFrame(nested, 'probe'),
						durationMs: FLOOD_MS,
						closeWithinMs: HEAVY_CLOSE_WITHIN_MS,
						...LEAVE_AT_CLOSE
					});
					return result.framesSent;
				}
			);
			expectUnharmed(outcome);
			expectEveryFloodClosed(result!, false);
		},
		TEST_MS
	);
});

describe('the rate limit', () => {
	/** A request frame as our client writes it: the id last, so a refusal can name it unparsed. */
	const request = (id: number) =>
		encodeFrame(Opcode.Text, JSON.stringify({ name: 'probe', data: null, id }));

	it("a burst: past the bucket's 100, refusals under their ids, then 1008", async () => {
		let texts: string[] = [];
		let close: { code: number; reason: string } | undefined;
		const outcome = await underAttack(server(), 'request burst past the rate limit', async () => {
			const client = await RawClient.connect(server().port, { path: HardeningRoute.open });
			await client.waitForText((text) => text.includes('"connected"'), 'connected');
			client.socket.write(Buffer.concat(Array.from({ length: 400 }, (_, n) => request(n + 1))));
			close = await client.waitForClose(10_000);
			texts = client.texts.slice(1);
			client.destroy();
			return 400;
		});
		expectUnharmed(outcome);
		expect(close).toEqual({ code: 1008, reason: 'Rate limit exceeded' });
		const answers = texts.map(
			(text) => JSON.parse(text) as { name: string; id?: number; data: { code?: string } }
		);
		const replies = answers.filter((answer) => answer.name == 'reply');
		const refusals = answers.filter((answer) => answer.data.code == 'rate_limited');
		expect(replies.length + refusals.length, 'every answer is a reply or a refusal').toBe(
			answers.length
		);
		// The bucket holds 100: those are accepted (their replies may be cut off by the close), and
		// only later frames are refused, under their ids; more trickle in while the burst is read.
		const refused = refusals.map((answer) => answer.id ?? 0);
		expect(refused.length, 'refusals').toBeGreaterThan(0);
		expect(refused.length, 'refusals before the close').toBeLessThanOrEqual(50);
		expect(Math.min(...refused), 'first refused id').toBeGreaterThan(100);
		expect(refused, 'refusals in order').toEqual([...refused].sort((a, b) => a - b));
	}, 30_000);

	it('a sender just above the rate is closed once 50 frames were refused, not only 50 in a row', async () => {
		let sent = 0;
		let close: { code: number; reason: string } | undefined;
		const outcome = await underAttack(server(), 'sending just above the rate limit', async () => {
			const client = await RawClient.connect(server().port, { path: HardeningRoute.open });
			await client.waitForText((text) => text.includes('"connected"'), 'connected');
			client.socket.write(Buffer.concat(Array.from({ length: 100 }, () => request(++sent))));
			// About 200 a second against a refill of 50: refusals and acceptances interleave, so the
			// refusals are never 50 in a row, but 50 of them pile up within a second or so.
			const pacer = setInterval(() => {
				if (!client.isClosed && sent < 1_000)
					client.socket.write(Buffer.concat([request(++sent), request(++sent)]));
			}, 10);
			try {
				close = await client.waitForClose(15_000);
			} finally {
				clearInterval(pacer);
				client.destroy();
			}
			return sent;
		});
		expectUnharmed(outcome);
		expect(close?.code).toBe(1008);
		// 100 from the bucket, then at most ~50 accepted and 50 refused before the close decision
		// (plus what was in flight when it was made).
		expect(sent, 'frames sent before the close').toBeLessThanOrEqual(400);
	}, 30_000);
});

describe('exhausting the outbound side', () => {
	it('readers that never read are closed with 1013; a reader that keeps up is not', async () => {
		const readers = scaled(4, 16);
		const count = scaled(1_500, 6_000);
		let keepingUp: RawClient | undefined;
		let stalled: { client: RawClient; id: string }[] = [];
		let bulk = { published: 0, rejected: 0 };
		const closedBefore = (await server().stats()).slowConsumerCloses;
		const outcome = await underAttack(server(), 'never-reading consumers', async () => {
			stalled = await Promise.all(Array.from({ length: readers }, signedIn));
			for (const { client } of stalled) await join(client, 'bulk');
			keepingUp = (await signedIn()).client;
			await join(keepingUp, 'bulk');
			for (const { client } of stalled) client.pause();
			// About 8 MB/s: a reader that reads keeps up on a busy machine; one that does not read
			// has 1 MiB waiting after some 130 messages.
			bulk = await server().bulk('bulk', count, 8 * 1024, 1);
			return bulk.published * (readers + 1);
		});
		expectUnharmed(outcome);
		expect(bulk).toEqual({ published: count, rejected: 0 });
		// The stalled readers are gone on the server (dropped 1 s after their 1013 at the latest).
		for (const { id } of stalled) {
			await within(
				(async () => {
					while ((await server().rooms(id)) !== null) {
						await new Promise((resolve) => setTimeout(resolve, 100));
					}
				})(),
				`the stalled reader ${id} to be dropped`
			);
		}
		// Each was closed with 1013, as the server counts it: the close frame itself may never reach
		// a reader that does not read within the second the server waits for the close handshake.
		expect((await server().stats()).slowConsumerCloses - closedBefore).toBe(readers);
		for (const { client } of stalled) {
			client.resume();
			const close = await client.waitForClose(5_000);
			if (close) expect(close).toEqual({ code: 1013, reason: 'Slow consumer' });
		}
		// Counted as frames arrive, each looked at once: the reader must keep up, so must its test.
		let looked = 0;
		let bulkItems = 0;
		const received = await keepingUp!.frames.until(
			() => {
				const items = keepingUp!.frames.items;
				for (; looked < items.length; looked++) {
					if (items[looked].payload.includes('"bulk.item"')) bulkItems++;
				}
				return bulkItems >= count ? bulkItems : undefined;
			},
			`${count} bulk items for the reader that keeps up`,
			20_000
		);
		expect(received).toBe(count);
		expect(keepingUp!.isClosed).toBe(false);
	}, 90_000);

	it(
		'a publish larger than maxMessageSize is refused up front with a RangeError',
		async () => {
			const outcome = await underAttack(server(), 'oversize publishes (600 KiB)', async () => {
				for (const via of ['publish', 'to', 'broadcast'] as const) {
					expect(await server().oversize(via, 600 * 1024), `oversize by ${via}`).toBe('RangeError');
				}
				return 3;
			});
			expectUnharmed(outcome);
		},
		TEST_MS
	);
});

describe('thousands of joins', () => {
	it('joins past maxRoomsPerConnection are answered too_many_rooms, and the rooms stay at 100', async () => {
		// The roomy route lets each connection send thousands of joins at once; more connections than
		// this keep the server busy for seconds with honest work, which is load, not an attack.
		const connections = scaled(4, 10);
		const joins = scaled(2_000, 3_000);
		const outcome = await underAttack(server(), 'thousands of joins', async () => {
			await Promise.all(
				Array.from({ length: connections }, async (_, index) => {
					const client = await RawClient.connect(server().port, { path: HardeningRoute.roomy });
					const connected = JSON.parse(
						await client.waitForText((text) => text.includes('"connected"'), 'connected')
					) as { data: { id: string } };
					const frames = Array.from({ length: joins }, (_, n) =>
						encodeFrame(
							Opcode.Text,
							JSON.stringify({
								name: 'room.join',
								data: { room: `room:${index}:${n + 1}` },
								id: n + 1
							})
						)
					);
					client.socket.write(Buffer.concat(frames));
					// Counting frames is cheap on every arrival; the texts are read once, at the end.
					await client.frames.until(
						() => (client.frames.items.length >= joins + 1 ? true : undefined),
						`${joins} join answers`,
						30_000
					);
					const answers = client.texts;
					const parsed = answers.slice(1).map(
						(text) =>
							JSON.parse(text) as {
								name: string;
								id: number;
								data: { code?: string; room?: string };
							}
					);
					const joined = parsed.filter((answer) => answer.name == 'room.joined');
					const refused = parsed.filter((answer) => answer.data.code == 'too_many_rooms');
					expect(joined.map((answer) => answer.id)).toEqual(
						Array.from({ length: 100 }, (_, n) => n + 1)
					);
					expect(refused).toHaveLength(joins - 100);
					for (const answer of refused) {
						expect(answer.data.room).toBe(`room:${index}:${answer.id}`);
					}
					expect(await server().rooms(connected.data.id)).toHaveLength(100);
					client.destroy();
				})
			);
			return connections * joins;
		});
		expectUnharmed(outcome);
	}, 90_000);
});

describe('request keys', () => {
	it('fresh keys on every request keep at most maxBytes of answers per scope, and repeats get the kept answer', async () => {
		// Anonymous connections: each one's keys are its own, kept in the server's process. Every
		// answer is 8 KiB, so a connection's 1 MiB of kept answers is passed many times over.
		const connections = scaled(3, 8);
		const requests = scaled(400, 4_000);
		const payload = 'k'.repeat(8 * 1024);
		const keyed = (key: string, id: number) =>
			encodeFrame(Opcode.Text, JSON.stringify({ name: 'echo', data: payload, key, id }));
		const outcome = await underAttack(
			server(),
			'keyed requests, a fresh key each (8 KiB answers)',
			async () => {
				await Promise.all(
					Array.from({ length: connections }, async () => {
						const client = await RawClient.connect(server().port, { path: HardeningRoute.roomy });
						await client.waitForText((text) => text.includes('"connected"'), 'connected');
						// Text frames are counted, not read, as they arrive (one `connected`, then one answer
						// per request): reading every 8 KiB answer again on each arrival would be quadratic.
						// Only text frames: the server's heartbeat ping (every 30 s) may land among them, and
						// counted it let the repeat's wait end one answer early (seen in the soak).
						const texts = () => {
							let count = 0;
							for (const frame of client.frames.items) if (frame.opcode == Opcode.Text) count++;
							return count;
						};
						const answered = (count: number, what: string) =>
							client.frames.until(() => (texts() >= 1 + count ? true : undefined), what, 20_000);
						for (let sent = 0; sent < requests; sent += 100) {
							const ids = Array.from({ length: 100 }, (_, n) => sent + n + 1);
							client.socket.write(Buffer.concat(ids.map((id) => keyed(`fresh-${id}`, id))));
							await answered(sent + 100, 'a batch');
						}
						// The newest key's repeat is answered from what was kept, with the same data.
						client.socket.write(keyed(`fresh-${requests}`, requests + 1));
						await answered(requests + 1, 'the repeat');
						const repeat = JSON.parse(client.texts.at(-1)!) as {
							name: string;
							id: number;
							data: unknown;
						};
						expect(repeat).toMatchObject({ name: 'reply', id: requests + 1, data: payload });
						client.destroy();
					})
				);
				return connections * requests;
			}
		);
		expectUnharmed(outcome);
	}, 120_000);
});
