import type { EngineRequestKeys, RequestKeyLimits, RequestKeyState } from './engine.js';

/** An answer kept for a key, with what it weighs and until when (ms) it is kept. */
interface Kept {
	readonly scope: ScopeKeys;
	readonly key: string;
	readonly answer: string;
	/** Its UTF-8 bytes: what the scope's `maxBytes` counts. */
	readonly bytes: number;
	readonly until: number;
}

/** One scope's keys: claims at work (until when their lease holds) and answers, oldest first. */
interface ScopeKeys {
	readonly name: string;
	readonly running: Map<string, number>;
	readonly answers: Map<string, Kept>;
	bytes: number;
}

/**
 * Options of a `MemoryRequestKeys`.
 */
export interface MemoryRequestKeysOptions {
	/**
	 * Bytes of answers (and their keys) kept across every scope: past it the oldest answers go,
	 * whichever scope they are of, so that many scopes (one per anonymous connection) cannot grow
	 * the process without bound. Default 64 MiB.
	 */
	maxBytes?: number;
}

/** What a process keeps of answers at most, all scopes together, unless told otherwise. */
const DEFAULT_TOTAL_BYTES = 64 * 1024 * 1024;

/** How often (at most) the store looks through every scope for what expired. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * The answer kept instead of one longer than `maxBytes` (PROTOCOL.md, "Exactly-once requests"): the
 * request was applied, so a repeat must not run it again, but its answer is not there to send.
 */
export function answerNotKept(bytes: number, maxBytes: number): string {
	const message = `The request was applied, but its answer (${bytes} bytes) was larger than the ${maxBytes} bytes kept per scope`;
	return JSON.stringify(['error', { code: 'answer_not_kept', message }]);
}

/**
 * Request keys in one process (`MemoryEngine`, and the server's own store when its engine keeps
 * none). Every call is synchronous, so a claim is atomic. Expired answers and claims go when their
 * scope is next touched, and every scope is looked through at most once a minute on any call, so
 * scopes nobody uses again (a closed anonymous connection's) do not pile up; no timer is left to
 * stop.
 */
export class MemoryRequestKeys implements EngineRequestKeys {
	readonly #scopes = new Map<string, ScopeKeys>();
	/** Every kept answer, in the order they were kept: the oldest goes first past `#maxBytes`. */
	readonly #kept = new Set<Kept>();
	readonly #maxBytes: number;
	#bytes = 0;
	#lastSweep = 0;

	constructor({ maxBytes = DEFAULT_TOTAL_BYTES }: MemoryRequestKeysOptions = {}) {
		this.#maxBytes = maxBytes;
	}

	/** What it holds now: scopes, answers, and the bytes counted against its cap. */
	get usage(): { readonly scopes: number; readonly answers: number; readonly bytes: number } {
		return { scopes: this.#scopes.size, answers: this.#kept.size, bytes: this.#bytes };
	}

	claim(scope: string, key: string, limits: RequestKeyLimits): RequestKeyState {
		const now = Date.now();
		this.#sweep(now);
		const keys = this.#scope(scope);
		const kept = keys.answers.get(key);
		if (kept && kept.until > now) return { state: 'answered', answer: kept.answer };
		if (kept) this.#drop(kept);
		const lease = keys.running.get(key);
		if (lease !== undefined && lease > now) return { state: 'running' };
		keys.running.set(key, now + limits.lease);
		return { state: 'claimed' };
	}

	settle(scope: string, key: string, answer: string, limits: RequestKeyLimits): void {
		const now = Date.now();
		const keys = this.#scope(scope);
		keys.running.delete(key);
		// The first answer stays, as on Redis: a second settle comes from handlers that ran again
		// after a lease ran out, and the repeats already given the first must not learn another.
		const previous = keys.answers.get(key);
		if (previous && previous.until > now) return;
		if (previous) this.#drop(previous);
		let bytes = Buffer.byteLength(answer);
		if (bytes > limits.maxBytes) {
			answer = answerNotKept(bytes, limits.maxBytes);
			bytes = Buffer.byteLength(answer);
		}
		const kept: Kept = { scope: keys, key, answer, bytes, until: now + limits.window };
		keys.answers.set(key, kept);
		keys.bytes += bytes;
		this.#kept.add(kept);
		this.#bytes += bytes + key.length;
		this.#evict(kept, limits, now);
	}

	release(scope: string, key: string): void {
		const keys = this.#scopes.get(scope);
		if (!keys) return;
		keys.running.delete(key);
		this.#forgetIfEmpty(keys);
	}

	/** The scope's keys, made on first use. */
	#scope(name: string): ScopeKeys {
		let keys = this.#scopes.get(name);
		if (!keys) {
			keys = { name, running: new Map(), answers: new Map(), bytes: 0 };
			this.#scopes.set(name, keys);
		}
		return keys;
	}

	/**
	 * Drops what expired of the scope, then its oldest answers while it holds more than `limits`
	 * allow, then the oldest of every scope while the process holds more than its own cap. The
	 * answer just kept (`newest`) stays whatever the bounds: a repeat of it must not run again, and
	 * `answer_not_kept` may itself be longer than a tiny `maxBytes`.
	 */
	#evict(newest: Kept, limits: RequestKeyLimits, now: number): void {
		const keys = newest.scope;
		for (const kept of keys.answers.values()) {
			const over = keys.answers.size > limits.maxKeys || keys.bytes > limits.maxBytes;
			if (kept == newest || (!over && kept.until > now)) break;
			this.#drop(kept);
		}
		for (const kept of this.#kept) {
			if (kept == newest || this.#bytes <= this.#maxBytes) break;
			this.#drop(kept);
			this.#forgetIfEmpty(kept.scope);
		}
	}

	/** Drops a kept answer; its scope is left for the caller to forget, which may be about to use it. */
	#drop(kept: Kept): void {
		const keys = kept.scope;
		if (keys.answers.get(kept.key) !== kept) return;
		keys.answers.delete(kept.key);
		keys.bytes -= kept.bytes;
		this.#kept.delete(kept);
		this.#bytes -= kept.bytes + kept.key.length;
	}

	/** A scope with nothing left goes: a closed connection's scope leaves nothing behind. */
	#forgetIfEmpty(keys: ScopeKeys): void {
		const empty = !keys.running.size && !keys.answers.size;
		if (empty && this.#scopes.get(keys.name) === keys) this.#scopes.delete(keys.name);
	}

	/** Drops every expired answer and lapsed claim now and then. */
	#sweep(now: number): void {
		if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
		this.#lastSweep = now;
		for (const kept of this.#kept) if (kept.until <= now) this.#drop(kept);
		for (const keys of this.#scopes.values()) {
			for (const [key, lease] of keys.running) if (lease <= now) keys.running.delete(key);
			this.#forgetIfEmpty(keys);
		}
	}
}
