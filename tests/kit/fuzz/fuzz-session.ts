import fc from 'fast-check';
import { expectUnharmed, scaled, underAttack } from '../attack/attack.js';
import type { HardeningServer } from '../servers/hardening-server-process.js';
import {
	DOCUMENTED_CLOSE_CODES,
	ERROR_CODES,
	HardeningRoute,
	Token
} from '../servers/hardening-messages.js';
import {
	closeInfo,
	encodeFrame,
	Opcode,
	RawClient,
	type FrameOptions
} from '../peers/raw-frames.js';

/** A server envelope as the fuzz session parses it. */
export interface ServerEnvelope {
	readonly name: string;
	readonly data: unknown;
	readonly id?: unknown;
	readonly timestamp?: unknown;
}

/** Where a fuzzed connection goes, and whether it signs in first. */
export type FuzzTarget = 'open' | 'signed-in' | 'before-auth';

/** How the connection stood after the fuzzed input: still served, or closed (and how). */
export type Verdict =
	| { readonly kind: 'answered' }
	| { readonly kind: 'closed'; readonly code: number; readonly reason: string }
	| { readonly kind: 'dropped' }
	| { readonly kind: 'silent' };

/** Counts every frame the fuzzers sent, across runs, for the soak summary. */
export const fuzzCounter = { frames: 0 };

let nextProbeId = 1_000_000_000;

/** A fresh request id no generator produces (generators stay below 1e9). */
export function freshId(): number {
	return nextProbeId++;
}

function isRecord(value: unknown): value is Record<string, unknown> {
	return typeof value == 'object' && value !== null && !Array.isArray(value);
}

function decodeUtf8(bytes: Buffer): string | undefined {
	try {
		return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
	} catch {
		return undefined;
	}
}

/**
 * One raw connection a fuzzer drives: it counts what it sends, parses what the server answers,
 * and judges both. `problems()` lists every server frame that breaks the protocol (bad JSON,
 * unknown error codes, undocumented close codes, reasons over 123 bytes); `verdict()` sends a
 * probe request and tells whether the server still serves the connection or closed it.
 *
 * @example
 * ```ts
 * const session = await FuzzSession.open(port, 'open');
 * session.sendText('{"name":');
 * expect(await session.verdict()).toMatchObject({ kind: 'answered' });
 * expect(session.problems()).toEqual([]);
 * ```
 */
export class FuzzSession {
	readonly client: RawClient;
	/** Close codes the fuzzer itself sent in close frames: the server may echo them. */
	readonly ownCloseCodes = new Set<number>();

	private constructor(client: RawClient) {
		this.client = client;
	}

	/** Connects to the fixture (and signs in with a good token for `signed-in`). */
	static async open(port: number, target: FuzzTarget): Promise<FuzzSession> {
		const path = target == 'open' ? HardeningRoute.open : HardeningRoute.auth;
		const client = await RawClient.connect(port, { path });
		if (client.status != 101) throw new Error(`The fuzz connection got HTTP ${client.status}`);
		const session = new FuzzSession(client);
		if (target == 'signed-in') {
			session.sendText(JSON.stringify({ name: 'auth', data: { token: Token.good } }));
		}
		if (target != 'before-auth') {
			await client.waitForText((text) => text.includes('"connected"'), 'connected', 10_000);
		}
		return session;
	}

	/** Writes one frame. */
	send(opcode: number, payload: Buffer | string, options?: FrameOptions): void {
		this.write(encodeFrame(opcode, payload, options), 1);
	}

	/** Writes one masked text frame. */
	sendText(text: string): void {
		this.send(Opcode.Text, text);
	}

	/** Writes raw bytes holding `frames` frames. */
	write(bytes: Buffer, frames: number): void {
		fuzzCounter.frames += frames;
		if (!this.client.socket.destroyed) this.client.socket.write(bytes);
	}

	/** The server's text frames parsed as envelopes (others left out). */
	get envelopes(): ServerEnvelope[] {
		const envelopes: ServerEnvelope[] = [];
		for (const text of this.client.texts) {
			try {
				const value: unknown = JSON.parse(text);
				if (isRecord(value) && typeof value.name == 'string') {
					envelopes.push(value as unknown as ServerEnvelope);
				}
			} catch {
				// Heartbeat answers are not JSON; problems() judges every frame.
			}
		}
		return envelopes;
	}

	/** Envelopes answering the request `id`. */
	answersTo(id: number): ServerEnvelope[] {
		return this.envelopes.filter((envelope) => envelope.id === id);
	}

	/**
	 * Waits (at most `ms`) until every id in `ids` has an answer, or the connection ended: closed, or
	 * the server's close frame arrived (nothing follows it, and this client never answers it, so the
	 * socket itself would only end when the server drops it 3 s later).
	 */
	async answered(ids: readonly number[], ms = 5_000): Promise<void> {
		await this.client.frames
			.until(
				() =>
					this.client.isClosed ||
					this.close !== undefined ||
					ids.every((id) => this.answersTo(id).length > 0)
						? true
						: undefined,
				`answers to ${ids.length} requests`,
				ms
			)
			.catch(() => undefined);
	}

	/** The server's close frame, if it sent one. */
	get close(): { code: number; reason: string } | undefined {
		const frame = this.client.frames.items.find((item) => item.opcode == Opcode.Close);
		return frame && closeInfo(frame);
	}

	/**
	 * Sends a probe request and waits (at most `ms`) for its answer, a close frame or the end of
	 * the connection.
	 */
	async verdict(ms = 5_000): Promise<Verdict> {
		const id = freshId();
		this.sendText(JSON.stringify({ name: 'probe', data: null, id }));
		try {
			return await this.client.frames.until(
				(): Verdict | undefined => {
					const close = this.close;
					if (close) return { kind: 'closed', ...close };
					if (this.answersTo(id).length) return { kind: 'answered' };
					return this.client.isClosed ? { kind: 'dropped' } : undefined;
				},
				'the probe answer or a close',
				ms
			);
		} catch {
			return { kind: 'silent' };
		}
	}

	/** Every server frame that breaks the protocol, described. */
	problems(): string[] {
		const problems: string[] = [];
		for (const frame of this.client.frames.items) {
			if (frame.opcode == Opcode.Close) {
				const { code } = closeInfo(frame);
				const reason = frame.payload.subarray(2);
				const echoed = this.ownCloseCodes.has(code);
				if (!echoed && !DOCUMENTED_CLOSE_CODES.includes(code)) {
					problems.push(`undocumented close code ${code}`);
				}
				if (reason.length > 123) problems.push(`close reason of ${reason.length} bytes`);
				if (decodeUtf8(reason) === undefined) problems.push('close reason not UTF-8');
			} else if (frame.opcode == Opcode.Text) {
				const problem = textProblem(frame.payload);
				if (problem) problems.push(problem);
			} else if (frame.opcode != Opcode.Ping && frame.opcode != Opcode.Pong) {
				problems.push(`server sent opcode ${frame.opcode}`);
			}
		}
		return problems;
	}

	destroy(): void {
		this.client.destroy();
	}
}

/** What is wrong with one server text frame, or undefined. */
function textProblem(payload: Buffer): string | undefined {
	const text = decodeUtf8(payload);
	if (text === undefined) return 'a text frame that is not UTF-8';
	if (text == '3') return undefined;
	let value: unknown;
	try {
		value = JSON.parse(text);
	} catch {
		return `not JSON: ${text.slice(0, 80)}`;
	}
	if (!isRecord(value)) return `not an object: ${text.slice(0, 80)}`;
	if (value.type == 'pong' && value.name === undefined) return undefined;
	if (typeof value.name != 'string') return `no name: ${text.slice(0, 80)}`;
	if (typeof value.timestamp != 'number') return `no timestamp: ${text.slice(0, 80)}`;
	if ('id' in value && typeof value.id != 'number') return `a non-numeric id: ${text.slice(0, 80)}`;
	if (value.name == 'error') {
		const data = value.data;
		if (!isRecord(data) || typeof data.code != 'string' || !ERROR_CODES.includes(data.code)) {
			return `an error with an unknown code: ${text.slice(0, 120)}`;
		}
		if (typeof data.message != 'string') return `an error without a message: ${text.slice(0, 120)}`;
	}
	return undefined;
}

/**
 * fast-check parameters for one fuzz property: `numRuns` runs (from the run's seed, which FC_SEED
 * picks: tests/setup/property-seed.global.ts), all of them within `limitMs` or the property fails
 * with "Property interrupted after N tests". The limit only ends a property that hangs or crawls: a
 * pass always ran every case (`fc.pre` rejections are redrawn, as usual).
 *
 * @example
 * ```ts
 * await fc.assert(property, fuzzParameters(300, 40_000));
 * ```
 */
export function fuzzParameters(numRuns: number, limitMs: number) {
	return { numRuns, plugins: [fc.interruptAfterTimeLimit(limitMs, { failOnInterrupt: true })] };
}

/**
 * Wraps a property's predicate so that runs after the server died pass without doing anything:
 * fast-check then cannot shrink a crash into whatever small input met the dead server, and reports
 * the input that was running when it died (the attack's outcome reports the crash itself).
 *
 * @example
 * ```ts
 * fc.asyncProperty(frames, whileServing(() => server().alive, async (frames) => { … }));
 * ```
 */
export function whileServing<Args extends unknown[]>(
	alive: () => boolean,
	run: (...args: Args) => Promise<void>
): (...args: Args) => Promise<void> {
	return async (...args) => {
		if (alive()) await run(...args);
	};
}

/** Runs per fuzz property: a quick pass in `npm test`, thousands in `npm run soak`. */
export const FUZZ_RUNS = scaled(150, 3_000);
/**
 * How long one fuzz property may run before it fails. The slowest property takes about 1.8 s (150
 * cases) next to other test files on 2 busy cores; 10 s leaves 5× for a slower CI machine.
 */
export const FUZZ_BUDGET_MS = scaled(10_000, 1_500_000);

/**
 * Runs one fuzz property against the hardening server as an attack: its frames are counted as the
 * attack's inputs, and the server must come out unharmed (alive, no stall, the feed complete).
 *
 * @example
 * ```ts
 * await fuzzUnderAttack(server(), 'fuzz: control frames', fc.asyncProperty(frames, sendThem));
 * ```
 */
export async function fuzzUnderAttack<Values extends unknown[]>(
	server: HardeningServer,
	attack: string,
	property: fc.IAsyncProperty<Values>,
	runs = FUZZ_RUNS
): Promise<void> {
	const outcome = await underAttack(server, attack, async (inputs) => {
		const before = fuzzCounter.frames;
		try {
			await fc.assert(property, fuzzParameters(runs, FUZZ_BUDGET_MS));
		} finally {
			inputs.count = fuzzCounter.frames - before;
		}
	});
	expectUnharmed(outcome);
}
