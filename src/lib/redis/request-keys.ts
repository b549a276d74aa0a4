import type { EngineRequestKeys, RequestKeyLimits, RequestKeyState } from '../engine/engine.js';
import { errorFrom } from '../engine/errors.js';
import { answerNotKept } from '../engine/memory-request-keys.js';
import type { RedisConnection } from './connections.js';
import { commandWithin, throwUnlessReady } from './failures.js';
import { requestKeyNames } from './keys.js';
import { runScript, script } from './scripts.js';

// A scope's request keys are four Redis keys under one hash tag (`requestKeyNames`):
// - `claims`, a sorted set: request key → when its lease ends (Redis µs); a running claim;
// - `answers`, a hash: request key → its answer; `answered`, a sorted set: request key → when it
//   was answered (Redis µs, strictly increasing within the scope, so "oldest" is never a tie);
// - `bytes`: the bytes of every answer kept.
// Time is Redis' own (TIME), so the processes' clocks do not matter. Every script first forgets
// the answers older than the window and the claims whose lease ended, and every write sets all
// four keys to expire max(window, lease) later: a scope nobody uses goes as a whole, and nothing
// in it outlives its window or lease by more than that.
const PRELUDE = `local claims, answers, answered, bytes = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local key = ARGV[2]
local function us(value) return string.format('%d', value) end
local function forget(old)
  local size = redis.call('HSTRLEN', answers, old)
  redis.call('HDEL', answers, old)
  redis.call('ZREM', answered, old)
  if redis.call('DECRBY', bytes, size) <= 0 then redis.call('DEL', bytes) end
end
local function keep(ttl)
  for _, name in ipairs(KEYS) do redis.call('PEXPIRE', name, ttl) end
end
local window = tonumber(ARGV[1]) * 1000
for _, old in ipairs(redis.call('ZRANGEBYSCORE', answered, '-inf', us(now - window))) do
  forget(old)
end
redis.call('ZREMRANGEBYSCORE', claims, '-inf', us(now))
`;

/**
 * KEYS: claims, answers, answered, bytes. ARGV: window ms, request key, lease ms, ttl ms. Returns
 * `{'answered', answer}`, `{'running'}`, or `{'claimed'}` after taking the claim for `lease`.
 */
const CLAIM_SCRIPT = script(
	`${PRELUDE}local answer = redis.call('HGET', answers, key)
if answer then return {'answered', answer} end
if redis.call('ZSCORE', claims, key) then return {'running'} end
redis.call('ZADD', claims, us(now + tonumber(ARGV[3]) * 1000), key)
keep(ARGV[4])
return {'claimed'}`,
	4
);

/**
 * KEYS: claims, answers, answered, bytes. ARGV: window ms, request key, answer, max keys, max
 * bytes, ttl ms. Ends the key's claim and keeps its answer, unless it has one already (a claim
 * whose lease ran out was taken and answered again: the first answer stays). Then forgets the
 * oldest answers until at most max keys and max bytes are kept, never the new one. Returns 1 when
 * it kept the answer, 0 when the key had one.
 */
const SETTLE_SCRIPT = script(
	`${PRELUDE}redis.call('ZREM', claims, key)
if redis.call('HEXISTS', answers, key) == 1 then return 0 end
local newest = redis.call('ZRANGE', answered, -1, -1, 'WITHSCORES')[2]
local at = now
if newest and tonumber(newest) >= at then at = tonumber(newest) + 1 end
redis.call('HSET', answers, key, ARGV[3])
redis.call('ZADD', answered, us(at), key)
redis.call('INCRBY', bytes, #ARGV[3])
local maxKeys, maxBytes = tonumber(ARGV[4]), tonumber(ARGV[5])
while redis.call('ZCARD', answered) > maxKeys or tonumber(redis.call('GET', bytes) or '0') > maxBytes do
  local oldest = redis.call('ZRANGE', answered, 0, 0)[1]
  if oldest == key then break end
  forget(oldest)
end
keep(ARGV[6])
return 1`,
	4
);

/** The largest count or size a script is given: Lua reads no `Infinity`. */
const UNBOUNDED = Number.MAX_SAFE_INTEGER;

/** `value` as a whole number of ms, count or bytes for a script (`Infinity` → `UNBOUNDED`). */
function whole(value: number): number {
	return Number.isFinite(value) ? Math.max(0, Math.ceil(value)) : UNBOUNDED;
}

/**
 * What is kept of `answer` under `maxBytes`: the answer itself, or, when its JSON text is longer,
 * an `answer_not_kept` error (`answerNotKept`): a repeat learns it was applied and is not run
 * again, and one answer cannot take all the room a scope has.
 */
export function keptAnswer(answer: string, maxBytes: number): string {
	const size = Buffer.byteLength(answer);
	return size <= maxBytes ? answer : answerNotKept(size, maxBytes);
}

/** An answer Redis did not take when it was given (down, or late), to write again later. */
interface UnsavedAnswer {
	readonly scope: string;
	readonly key: string;
	/** What is kept of it (`keptAnswer`). */
	readonly answer: string;
	readonly limits: RequestKeyLimits;
	/** The UTF-8 bytes of `answer`. */
	readonly bytes: number;
	/** When it was given (this process's ms): past its window it is not worth writing. */
	readonly at: number;
}

/**
 * How many answers, and how many bytes of them, a process keeps for Redis while it cannot take
 * them: past either, the oldest go (their keys run again once their lease ends).
 */
const MAX_UNSAVED = 10_000;
const MAX_UNSAVED_BYTES = 16 * 1024 * 1024;

/** What `RedisRequestKeys` needs of its engine. */
export interface RedisRequestKeysOptions {
	readonly redis: RedisConnection;
	readonly prefix: string;
	/** Milliseconds a command may take. */
	readonly timeout: number;
}

/**
 * Request keys and their answers shared by every process on one Redis (or Redis Cluster: a
 * scope's keys share one slot), for exactly-once requests (`EngineRequestKeys`). A claim is one
 * script, so of two processes racing on a key one gets `claimed`; a claim whose lease (Redis
 * time) ended is claimable again, as its process is taken to have died. Each command is bounded by
 * the engine's `timeout` and fails at once while Redis is down, naming what it could not do; the
 * server then answers `unavailable` and runs nothing. An answer Redis did not take (a handler that
 * answered while it restarted) is kept here and written once Redis answers again (`reconnected`,
 * or any command that succeeds), so a repeat after the restart gets it instead of running the
 * handler again once the claim's lease ends; settling is idempotent (the first answer stays).
 */
export class RedisRequestKeys implements EngineRequestKeys {
	readonly #options: RedisRequestKeysOptions;
	/** Answers Redis did not take yet, by scope and key, the oldest first. */
	readonly #unsaved = new Map<string, UnsavedAnswer>();
	#unsavedBytes = 0;
	/** The writing of `#unsaved` under way, if any: one at a time. */
	#saving: Promise<void> | undefined;

	constructor(options: RedisRequestKeysOptions) {
		this.#options = options;
	}

	async claim(scope: string, key: string, limits: RequestKeyLimits): Promise<RequestKeyState> {
		const reply = await this.#script(`claim the request key ${JSON.stringify(key)}`, () =>
			runScript(this.#options.redis, CLAIM_SCRIPT, this.#names(scope), [
				whole(limits.window),
				key,
				whole(limits.lease),
				ttl(limits)
			])
		);
		this.reconnected();
		const [state, answer] = reply as [string, string?];
		if (state == 'answered') return { state, answer: String(answer) };
		if (state == 'running' || state == 'claimed') return { state };
		throw new Error(`runesocket/redis: the claim script answered ${JSON.stringify(reply)}`);
	}

	async settle(
		scope: string,
		key: string,
		answer: string,
		limits: RequestKeyLimits
	): Promise<void> {
		const kept = keptAnswer(answer, limits.maxBytes);
		const bytes = Buffer.byteLength(kept);
		const unsaved: UnsavedAnswer = { scope, key, answer: kept, limits, bytes, at: Date.now() };
		try {
			await this.#save(unsaved);
		} catch (error) {
			this.#keepUnsaved(unsaved);
			throw new Error(`${errorFrom(error).message}; it is written once Redis answers again`, {
				cause: error
			});
		}
		this.reconnected();
	}

	/**
	 * Redis answers again (the engine's command connection is ready, or a command succeeded): writes
	 * the answers it did not take, oldest first, until one fails (the rest wait for the next time).
	 */
	reconnected(): void {
		if (this.#saving || !this.#unsaved.size) return;
		this.#saving = this.#saveUnsaved().finally(() => (this.#saving = undefined));
	}

	async release(scope: string, key: string): Promise<void> {
		const { claims } = requestKeyNames(this.#options.prefix, scope);
		await this.#script(`release the request key ${JSON.stringify(key)}`, () =>
			this.#options.redis.zrem(claims, key)
		);
	}

	#save({ scope, key, answer, limits }: UnsavedAnswer): Promise<unknown> {
		return this.#script(`keep the answer of the request key ${JSON.stringify(key)}`, () =>
			runScript(this.#options.redis, SETTLE_SCRIPT, this.#names(scope), [
				whole(limits.window),
				key,
				answer,
				whole(limits.maxKeys),
				whole(limits.maxBytes),
				ttl(limits)
			])
		);
	}

	#keepUnsaved(unsaved: UnsavedAnswer): void {
		this.#dropUnsaved(unsavedId(unsaved));
		this.#unsaved.set(unsavedId(unsaved), unsaved);
		this.#unsavedBytes += unsaved.bytes;
		for (const [id] of this.#unsaved) {
			if (this.#unsaved.size <= MAX_UNSAVED && this.#unsavedBytes <= MAX_UNSAVED_BYTES) break;
			this.#dropUnsaved(id);
		}
	}

	#dropUnsaved(id: string): void {
		const unsaved = this.#unsaved.get(id);
		if (!unsaved) return;
		this.#unsaved.delete(id);
		this.#unsavedBytes -= unsaved.bytes;
	}

	async #saveUnsaved(): Promise<void> {
		for (const [id, unsaved] of [...this.#unsaved]) {
			if (Date.now() - unsaved.at < unsaved.limits.window) {
				try {
					await this.#save(unsaved);
				} catch {
					return;
				}
			}
			if (this.#unsaved.get(id) === unsaved) this.#dropUnsaved(id);
		}
	}

	#names(scope: string): string[] {
		const names = requestKeyNames(this.#options.prefix, scope);
		return [names.claims, names.answers, names.answered, names.bytes];
	}

	#script<T>(what: string, run: () => Promise<T>): Promise<T> {
		const redis = this.#options.redis;
		throwUnlessReady(redis, what, 'the engine is not started');
		return commandWithin(redis, what, this.#options.timeout, run);
	}
}

/** The name of an unsaved answer: unambiguous whatever its scope and key contain. */
function unsavedId({ scope, key }: UnsavedAnswer): string {
	return JSON.stringify([scope, key]);
}

/** How long a scope's keys live after a write: the longest anything in them is kept. */
function ttl(limits: RequestKeyLimits): number {
	return Math.max(1, whole(Math.max(limits.window, limits.lease)));
}
