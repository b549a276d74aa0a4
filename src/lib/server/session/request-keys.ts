import type { EngineRequestKeys, RequestKeyLimits, RequestKeyState } from '../../engine/engine.js';
import { DeadlineError, errorFrom, withDeadline } from '../../engine/errors.js';
import { MemoryRequestKeys } from '../../engine/memory-request-keys.js';
import { ERROR_MESSAGE, isRecord, REPLY_MESSAGE } from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { safeJsonParse } from '../../protocol/safe-json.js';
import { CALLBACK_TIMEOUT_MS } from '../callbacks.js';
import type { Connection } from '../connection.js';
import type { RequestRepeat } from '../metrics/metrics.js';
import type { Sender } from './client-input.js';
import type { AnswerKeeper, HandledRequest } from './handled-request.js';

/** A repeat of a key another process runs asks the store again after this long at first… */
const FIRST_BACKOFF_MS = 25;
/** …then twice as long each time, up to this. */
const MAX_BACKOFF_MS = 250;

/** What a wait resolves with when the time a keyed request has before its handlers run is up. */
const LATE = Symbol('late');

/** A wait of `ms` that ends with `LATE`, and how to call it off. */
interface Countdown {
	readonly late: Promise<typeof LATE>;
	stop(): void;
}

function countdown(ms: number): Countdown {
	let timer: ReturnType<typeof setTimeout> | undefined;
	const late = new Promise<typeof LATE>((resolve) => {
		timer = setTimeout(() => resolve(LATE), ms);
		timer.unref();
	});
	return { late, stop: () => clearTimeout(timer) };
}

function sleep(ms: number): Promise<void> {
	return new Promise((wake) => setTimeout(wake, ms).unref());
}

/** Whether the store answered a claim with one of the three states the contract names. */
function isKeyState(value: unknown): value is RequestKeyState {
	if (!isRecord(value)) return false;
	if (value.state == 'answered') return typeof value.answer == 'string';
	return value.state == 'claimed' || value.state == 'running';
}

/** A key whose handlers run in this process: repeats here wait for `answer` instead of the store. */
interface LocalRun {
	/** The answer text once the handlers answered; undefined once the lease ran out without one. */
	readonly answer: Promise<string | undefined>;
	resolve(answer: string | undefined): void;
	readonly lease: ReturnType<typeof setTimeout>;
}

/**
 * Exactly-once requests on this process (PROTOCOL.md, "Exactly-once requests"): the engine's
 * `requestKeys` (every process on it shares them) or, when it keeps none, a store of this process.
 * Every call to the store is contained and bounded: one that throws or hangs costs the request an
 * `unavailable`, never the process, and never an answer the client was due. Keys whose handlers run
 * here are known locally too, so that a repeat on this process waits for their answer without
 * asking the store again.
 */
export class RequestKeys {
	readonly #store: EngineRequestKeys;
	readonly #local = new Map<string, LocalRun>();

	constructor(store: EngineRequestKeys | undefined) {
		this.#store = store ?? new MemoryRequestKeys();
	}

	/** The keeper of a request `sender` sent with `key`; undefined when its route ignores keys. */
	keyed(sender: Sender, key: string): KeyedRequest | undefined {
		const limits = sender.route.requestKeyLimits;
		return limits && new KeyedRequest(this, sender, key, limits);
	}

	/** The answer of the key's handlers running on this process, to wait for; undefined if none run here. */
	running(scope: string, key: string): Promise<string | undefined> | undefined {
		return this.#local.get(localId(scope, key))?.answer;
	}

	/**
	 * Asks the store for the key, waiting no later than `late`. A claim that comes after that (the
	 * request was answered `unavailable`) is given back, so that its next repeat runs it. Rejects
	 * when the store fails, answers something else than a state, or is late.
	 */
	async claim(
		connection: Connection<unknown>,
		scope: string,
		key: string,
		limits: RequestKeyLimits,
		late: Promise<typeof LATE>
	): Promise<RequestKeyState> {
		const claim = new Promise<unknown>((resolve) => resolve(this.#store.claim(scope, key, limits)));
		const state = await Promise.race([claim, late]);
		if (state === LATE) {
			void claim.then(
				(given) =>
					isKeyState(given) && given.state == 'claimed' && this.#release(connection, scope, key),
				() => {}
			);
			throw new DeadlineError("the engine's requestKeys.claim", CALLBACK_TIMEOUT_MS);
		}
		if (!isKeyState(state)) {
			throw new TypeError(`The engine's requestKeys.claim answered ${JSON.stringify(state)}`);
		}
		return state;
	}

	/**
	 * The key was claimed here and its handlers start: until they answer (or its lease runs out),
	 * repeats on this process wait for their answer.
	 */
	hold(scope: string, key: string, lease: number): LocalRun {
		const id = localId(scope, key);
		let resolve!: (answer: string | undefined) => void;
		const answer = new Promise<string | undefined>((settle) => (resolve = settle));
		const timer = setTimeout(() => this.#forget(id, run), lease);
		timer.unref();
		const run: LocalRun = { answer, resolve, lease: timer };
		this.#local.set(id, run);
		return run;
	}

	/**
	 * Keeps the first answer of a key claimed here: its waiting repeats here get it at once, and the
	 * store keeps it for later ones. A store that fails or hangs is reported; the repeats here still
	 * get the answer until the lease runs out.
	 */
	settle(
		connection: Connection<unknown>,
		scope: string,
		key: string,
		answer: string,
		limits: RequestKeyLimits,
		run: LocalRun
	): void {
		run.resolve(answer);
		withDeadline(
			() => this.#store.settle(scope, key, answer, limits),
			CALLBACK_TIMEOUT_MS,
			"the engine's requestKeys.settle"
		).then(
			() => this.#forget(localId(scope, key), run),
			(error: unknown) => connection.report(error)
		);
	}

	/** Gives back a claim no handler ran for. */
	#release(connection: Connection<unknown>, scope: string, key: string): void {
		withDeadline(
			() => this.#store.release(scope, key),
			CALLBACK_TIMEOUT_MS,
			"the engine's requestKeys.release"
		).catch((error: unknown) => connection.report(error));
	}

	/** The key's handlers here answered (and the store kept it) or their lease ran out. */
	#forget(id: string, run: LocalRun): void {
		clearTimeout(run.lease);
		run.resolve(undefined);
		if (this.#local.get(id) === run) this.#local.delete(id);
	}
}

/** The local name of a key: unambiguous whatever the scope and key contain. */
function localId(scope: string, key: string): string {
	return JSON.stringify([scope, key]);
}

/**
 * Where a keyed request's key stands on this process (one value, one transition each):
 * `asking` the store (or waiting for an attempt still running), `holding` it (its handlers run
 * here), `kept` once their first answer went to the store.
 */
type KeyState = 'asking' | 'holding' | 'kept';

/**
 * One keyed request to application handlers: claim its key, then run the handlers (`claimed`),
 * send the answer kept for it (`answered`), or wait for the attempt at work (`running`) on this
 * process or another, and ask again. Everything before the handlers run takes at most
 * `CALLBACK_TIMEOUT_MS`: a store that does not answer by then gets the request `unavailable`, an
 * attempt still running then gets it `no_reply`.
 */
export class KeyedRequest implements AnswerKeeper {
	readonly key: string;
	readonly #keys: RequestKeys;
	readonly #sender: Sender;
	readonly #limits: RequestKeyLimits;
	#state: KeyState = 'asking';
	/** Set once the key is claimed here. */
	#held: { readonly scope: string; readonly run: LocalRun } | undefined;
	/** Whether this repeat found an attempt at work: counted once. */
	#waited = false;

	constructor(keys: RequestKeys, sender: Sender, key: string, limits: RequestKeyLimits) {
		this.#keys = keys;
		this.#sender = sender;
		this.key = key;
		this.#limits = limits;
	}

	/** Answers `request` by its key, or claims the key and calls `run` to run its handlers. */
	begin(request: HandledRequest, run: () => void): void {
		this.#decide(request, run).catch((error: unknown) => {
			this.#sender.connection.report(error);
			request.fail();
		});
	}

	/** The handlers' first answer (only an attempt that claimed the key keeps one). */
	keep(name: string, data: unknown): void {
		const held = this.#held;
		if (this.#state != 'holding' || !held) return;
		const answer = JSON.stringify([name, data]);
		this.#state = 'kept';
		const { connection } = this.#sender;
		this.#keys.settle(connection, held.scope, this.key, answer, this.#limits, held.run);
	}

	async #decide(request: HandledRequest, run: () => void): Promise<void> {
		const scope = this.#scope();
		const { connection } = this.#sender;
		const time = countdown(CALLBACK_TIMEOUT_MS);
		try {
			for (let backoff = FIRST_BACKOFF_MS; ; backoff = Math.min(backoff * 2, MAX_BACKOFF_MS)) {
				const local = this.#keys.running(scope, this.key);
				if (local) {
					this.#wait();
					const answer = await Promise.race([local, time.late]);
					if (answer === LATE) return this.#stillRunning(request);
					if (answer !== undefined) return this.#repeat(request, answer);
					continue; // its lease ran out here: the store decides
				}
				let found: RequestKeyState;
				try {
					found = await this.#keys.claim(connection, scope, this.key, this.#limits, time.late);
				} catch (error) {
					return this.#unavailable(request, error);
				}
				if (found.state == 'claimed') return this.#run(request, run, scope);
				if (found.state == 'answered') {
					if (!this.#waited) this.#count('answered');
					return this.#repeat(request, found.answer);
				}
				this.#wait();
				if ((await Promise.race([sleep(backoff), time.late])) === LATE) {
					return this.#stillRunning(request);
				}
			}
		} finally {
			time.stop();
		}
	}

	/**
	 * The scope of the sender's keys: the route's `scope`, else the route path and the user, else
	 * (no user) the connection alone. Throws what `scope` throws.
	 */
	#scope(): string {
		const { connection, route } = this.#sender;
		const { requestKeys, path } = route.options;
		const chosen = requestKeys ? requestKeys.scope?.(connection) : undefined;
		if (typeof chosen == 'string') return chosen;
		const { userId } = connection;
		return JSON.stringify(userId === undefined ? [path, null, connection.id] : [path, userId]);
	}

	#run(request: HandledRequest, run: () => void, scope: string): void {
		this.#held = { scope, run: this.#keys.hold(scope, this.key, this.#limits.lease) };
		this.#state = 'holding';
		request.start();
		run();
	}

	/** Sends the answer kept for the key under this request's id. */
	#repeat(request: HandledRequest, answer: string): void {
		const parsed = safeJsonParse(answer);
		const [name, data] = Array.isArray(parsed) ? (parsed as unknown[]) : [];
		if (name !== REPLY_MESSAGE && name !== ERROR_MESSAGE) {
			throw new TypeError(
				`The answer kept for a request key is not [name, data]: ${answer.slice(0, 64)}`
			);
		}
		request.answerForKey(name, data);
	}

	#stillRunning(request: HandledRequest): void {
		request.answerForKey(ERROR_MESSAGE, {
			code: ErrorCode.NoReply,
			message: `No answer within ${CALLBACK_TIMEOUT_MS} ms: an earlier attempt with this key is still running`
		});
	}

	#unavailable(request: HandledRequest, error: unknown): void {
		const { connection, route } = this.#sender;
		connection.report(errorFrom(error));
		route.metrics.requestKeyUnavailable(route.options.path);
		request.answerForKey(ERROR_MESSAGE, {
			code: ErrorCode.Unavailable,
			message:
				'The request keys could not be checked: nothing was run. Send it again later, with the same key'
		});
	}

	/** This repeat found an attempt at work: counted as `waited`, once. */
	#wait(): void {
		if (this.#waited) return;
		this.#waited = true;
		this.#count('waited');
	}

	#count(outcome: RequestRepeat): void {
		const { route } = this.#sender;
		route.metrics.requestRepeated(route.options.path, outcome);
	}
}
