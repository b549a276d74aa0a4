/**
 * Property-based fuzzing of the message level with fast-check: well-framed text frames whose
 * content is hostile — truncated and deeply nested JSON, huge numbers and strings, every reserved
 * message with wrong types and weird ids, polluted keys at every depth (also spelled with escapes),
 * schemas and handlers that throw, room operations in any order. Per run: every request with an id
 * is answered exactly once under that id, echoed data comes back without polluted keys, room
 * membership is what applying the operations in order gives, the connection stays open (unless a
 * signed-in connection sent a token the fixture refuses: a refreshed token, closed with 4001 or the
 * refusal's own code), and nothing the server sends breaks the protocol.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { scaled } from '../../kit/attack/attack.js';
import {
	deepText,
	envelope,
	expectedEcho,
	oddText,
	pollutedPaths,
	pollutingKey,
	valueText,
	type FuzzMessage
} from '../../kit/fuzz/fuzz-json.js';
import {
	freshId,
	fuzzCounter,
	FUZZ_BUDGET_MS,
	fuzzUnderAttack,
	FuzzSession,
	whileServing,
	type FuzzTarget
} from '../../kit/fuzz/fuzz-session.js';
import { HardeningRoute, RoomPrefix, Token } from '../../kit/servers/hardening-messages.js';
import { useHardeningServer } from '../../kit/servers/hardening-server-process.js';
import { encodeFrame, Opcode, RawClient } from '../../kit/peers/raw-frames.js';

const server = useHardeningServer();
/** A property predicate that stops testing once the server died (see `whileServing`). */
const served = <Args extends unknown[]>(run: (...args: Args) => Promise<void>) =>
	whileServing(() => server().alive, run);
const TEST_MS = FUZZ_BUDGET_MS + 30_000;
/** Frames per run stay under the rate limit's burst (100): these runs test content, not rate. */
const MAX_MESSAGES = 40;

/** Runs one fuzz property against this file's server, as an attack. */
function fuzz<Values extends unknown[]>(
	attack: string,
	property: fc.IAsyncProperty<Values>,
	runs?: number
): Promise<void> {
	return fuzzUnderAttack(server(), attack, property, runs);
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value == 'object' && value !== null && !Array.isArray(value);
}

/**
 * Whether the server owes `text` exactly one answer under `id`: it is a JSON object carrying that
 * id, and neither a bare JSON ping, nor `auth` (ignored once authenticated), nor `hang` (a handler
 * that never settles).
 */
function owesAnswer(text: string, id: number): boolean {
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch {
		return false;
	}
	if (!isRecord(parsed) || parsed.id !== id) return false;
	if (parsed.type == 'ping' && parsed.name === undefined) return false;
	return parsed.name != 'auth' && parsed.name != 'hang';
}

/** Tokens the fixture's `verify` accepts, or fails on without refusing (the connection stays). */
const KEPT_TOKENS: readonly string[] = [Token.throws, Token.rejects, Token.hangs];

/**
 * Whether `text` is an `auth` message whose token the fixture refuses. On a signed-in connection
 * it is a refreshed token (PROTOCOL.md, "Token refresh"), and a refusal closes the connection
 * (unless a newer token overtakes it).
 */
function refusedToken(text: string): boolean {
	let parsed: unknown;
	try {
		parsed = JSON.parse(text);
	} catch {
		return false;
	}
	// Strict comparisons: a fuzzed name may be an object whose `toString` is not a function.
	if (!isRecord(parsed) || parsed.name !== 'auth' || !isRecord(parsed.data)) return false;
	const { token } = parsed.data;
	if (typeof token != 'string' || !token) return false;
	return token != Token.good && !token.startsWith(`${Token.good}:`) && !KEPT_TOKENS.includes(token);
}

/** The close codes the fixture refuses a token with. */
const REFUSAL_CODES = [4001, 4100];

/** One fuzzed frame of a batch: its text and the request id it carries, if fresh. */
interface Sent {
	readonly text: string;
	readonly id: number | undefined;
}

function materialise(message: FuzzMessage | string): Sent {
	if (typeof message == 'string') return { text: message, id: undefined };
	if (message.idKind == 'weird') return { text: message.text(message.weirdId), id: undefined };
	if (message.idKind == 'none') return { text: message.text(undefined), id: undefined };
	const id = freshId();
	return { text: message.text(String(id)), id };
}

/** Sends a batch of messages (in one write or one by one) and checks the oracle's answers. */
async function sendBatch(
	where: FuzzTarget,
	messages: readonly (FuzzMessage | string)[],
	oneWrite: boolean
): Promise<void> {
	const session = await FuzzSession.open(server().port, where);
	try {
		const sent = messages.map(materialise);
		const frames = sent.map(({ text }) => encodeFrame(Opcode.Text, text));
		fc.pre(frames.every((frame) => frame.length <= 64 * 1024));
		if (oneWrite) session.write(Buffer.concat(frames), frames.length);
		else for (const frame of frames) session.write(frame, 1);
		const owed = sent.flatMap(({ text, id }) =>
			id !== undefined && owesAnswer(text, id) ? [id] : []
		);
		await session.answered(owed);
		const verdict = await session.verdict();
		const refused = where == 'signed-in' && sent.some(({ text }) => refusedToken(text));
		if (verdict.kind != 'answered' || !refused) {
			expect(verdict, 'the connection after the batch').toMatchObject(
				refused ? { kind: 'closed', code: expect.toBeOneOf(REFUSAL_CODES) } : { kind: 'answered' }
			);
		}
		// Requests sent after a refused token may go unanswered: the connection closed.
		const most = verdict.kind == 'answered' ? 1 : 0;
		for (const id of owed) {
			const text = sent.find((item) => item.id == id)?.text.slice(0, 300);
			expect(session.answersTo(id).length, `answers to ${text}`).toBeGreaterThanOrEqual(most);
			expect(session.answersTo(id).length, `answers to ${text}`).toBeLessThanOrEqual(1);
		}
		expect(session.problems()).toEqual([]);
	} finally {
		session.destroy();
	}
}

const target = fc.constantFrom<FuzzTarget>('open', 'signed-in');
const message = fc.oneof({ weight: 4, arbitrary: envelope }, { weight: 1, arbitrary: oddText });

/** Envelopes for the names whose schemas, handlers or `onMessage` throw, reject or check late. */
const failingCallbacks: fc.Arbitrary<FuzzMessage> = envelope.filter((candidate) =>
	[
		'"boom"',
		'"slow-check"',
		'"explode"',
		'"reject"',
		'"on-message.throw"',
		'"on-message.reject"'
	].includes(candidate.name)
);

describe('message-level fuzzing', () => {
	it(
		'any batch of messages: every request is answered once, the connection stays open',
		async () => {
			await fuzz(
				'fuzz: arbitrary messages',
				fc.asyncProperty(
					target,
					fc.array(message, { minLength: 1, maxLength: MAX_MESSAGES }),
					fc.boolean(),
					served(sendBatch)
				)
			);
		},
		TEST_MS
	);

	it(
		'schemas, handlers and onMessage that throw or reject: answered, never fatal',
		async () => {
			await fuzz(
				'fuzz: throwing schemas and handlers',
				fc.asyncProperty(
					target,
					fc.array(failingCallbacks, { minLength: 1, maxLength: 10 }),
					fc.boolean(),
					served(sendBatch)
				),
				scaled(80, 1_500)
			);
		},
		TEST_MS
	);

	it(
		'data nested thousands deep: every request is still answered once',
		async () => {
			const deepRequest = fc
				.tuple(
					fc.constantFrom('echo', 'probe', 'no.such.name', 'room.join', 'boom', 'slow-check'),
					deepText
				)
				.map(([name, data]) => `{"name":"${name}","data":${data}`);
			await fuzz(
				'fuzz: deeply nested data',
				fc.asyncProperty(
					target,
					fc.array(deepRequest, { minLength: 1, maxLength: 3 }),
					served(async (where, requests) => {
						const session = await FuzzSession.open(server().port, where);
						try {
							const ids = requests.map(() => freshId());
							requests.forEach((request, index) =>
								session.sendText(`${request},"id":${ids[index]}}`)
							);
							await session.answered(ids);
							for (const [index, id] of ids.entries()) {
								const request = requests[index].slice(0, 60);
								const ending = `close ${JSON.stringify(session.close)}, TCP closed ${session.client.isClosed}`;
								expect(session.answersTo(id).length, `answers to ${request}… (${ending})`).toBe(1);
							}
							expect(await session.verdict()).toMatchObject({ kind: 'answered' });
							expect(session.problems()).toEqual([]);
						} finally {
							session.destroy();
						}
					})
				),
				scaled(40, 600)
			);
		},
		TEST_MS
	);

	it(
		'polluted keys at any depth, however spelled, never come back and never reach a prototype',
		async () => {
			const polluted = fc
				.tuple(valueText, pollutingKey, valueText, fc.nat())
				.map(([inner, key, value, depth]) => {
					// At least one polluting key, `depth % 4` objects down, inside random data.
					let text = `{${key}:${value},"inner":${inner}}`;
					for (let level = 0; level < depth % 4; level++) text = `{"level${level}":${text}}`;
					return text;
				});
			await fuzz(
				'fuzz: polluted keys',
				fc.asyncProperty(
					target,
					polluted,
					pollutingKey,
					served(async (where, data, topKey) => {
						const session = await FuzzSession.open(server().port, where);
						try {
							const id = freshId();
							session.sendText(`{"name":"echo",${topKey}:{"name":"x"},"data":${data},"id":${id}}`);
							await session.answered([id]);
							const [answer] = session.answersTo(id);
							expect(answer?.name, JSON.stringify(answer)).toBe('reply');
							expect(pollutedPaths(answer.data)).toEqual([]);
							expect(answer.data).toEqual(expectedEcho(data));
							expect(session.problems()).toEqual([]);
						} finally {
							session.destroy();
						}
					})
				)
			);
		},
		TEST_MS
	);

	it(
		'room operations apply in the order they were sent',
		async () => {
			const rooms = [
				`${RoomPrefix.slow}a`,
				`${RoomPrefix.slow}b`,
				'plain:c',
				`${RoomPrefix.forbidden}d`,
				`${RoomPrefix.throws}e`,
				`${RoomPrefix.rejects}f`
			];
			const operation = fc.record({
				join: fc.boolean(),
				room: fc.constantFrom(...rooms)
			});
			await fuzz(
				'fuzz: room operations in order',
				fc.asyncProperty(
					fc.array(operation, { minLength: 1, maxLength: 20 }),
					served(async (operations) => {
						const client = await RawClient.connect(server().port, { path: HardeningRoute.roomy });
						try {
							const connected = JSON.parse(
								await client.waitForText((text) => text.includes('"connected"'), 'connected')
							) as { data: { id: string } };
							const ids = operations.map(() => freshId());
							const frames = operations.map(({ join, room }, index) =>
								encodeFrame(
									Opcode.Text,
									JSON.stringify({
										name: join ? 'room.join' : 'room.leave',
										data: { room },
										id: ids[index]
									})
								)
							);
							fuzzCounter.frames += frames.length;
							client.socket.write(Buffer.concat(frames));
							const answers = await client.frames.until(() => {
								const found = client.texts
									.map((text) => JSON.parse(text) as { id?: number; name: string; data: unknown })
									.filter((answer) => answer.id !== undefined && ids.includes(answer.id));
								return found.length >= ids.length ? found : undefined;
							}, `${ids.length} answers`);
							expect(
								answers.map((answer) => answer.id),
								'answers in the order sent'
							).toEqual(ids);
							const model = new Set<string>();
							operations.forEach(({ join, room }, index) => {
								const answer = answers[index];
								const allowed = room.startsWith(RoomPrefix.slow) || room.startsWith('plain:');
								if (!join) {
									model.delete(room);
									expect(answer.name).toBe('reply');
								} else if (allowed) {
									model.add(room);
									expect(answer.name).toBe('room.joined');
								} else {
									const code = room.startsWith(RoomPrefix.forbidden)
										? 'forbidden'
										: 'internal_error';
									expect(answer).toMatchObject({ name: 'error', data: { code } });
								}
							});
							const joined = await server().rooms(connected.data.id);
							expect(new Set(joined), 'rooms after the operations').toEqual(model);
						} finally {
							client.destroy();
						}
					})
				),
				scaled(100, 2_000)
			);
		},
		TEST_MS
	);

	it(
		'heartbeats in one write, within the rate limit: each answered once, in its own kind',
		async () => {
			await fuzz(
				'fuzz: heartbeat batches',
				fc.asyncProperty(
					target,
					fc.array(fc.constantFrom('2', '{"type":"ping"}'), { minLength: 1, maxLength: 90 }),
					served(async (where, beats) => {
						const session = await FuzzSession.open(server().port, where);
						try {
							const frames = beats.map((beat) => encodeFrame(Opcode.Text, beat));
							session.write(Buffer.concat(frames), frames.length);
							expect(await session.verdict()).toMatchObject({ kind: 'answered' });
							const texts = session.client.texts;
							const sentTwos = beats.filter((beat) => beat == '2').length;
							// Fewer than the bucket's 100 frames: none is refused, so each gets its answer.
							expect(texts.filter((text) => text == '3').length, '"3" answers').toBe(sentTwos);
							expect(
								texts.filter((text) => text == '{"type":"pong"}').length,
								'{"type":"pong"} answers'
							).toBe(beats.length - sentTwos);
							expect(session.problems()).toEqual([]);
						} finally {
							session.destroy();
						}
					})
				),
				scaled(100, 2_000)
			);
		},
		TEST_MS
	);
});
