import type { EngineUserSlots } from '../engine/engine.js';
import { errorFrom } from '../engine/errors.js';
import type { RedisConnection } from './connections.js';
import { commandWithin, throwUnlessReady } from './failures.js';
import { userSlotsKey } from './keys.js';
import { runScript, script } from './scripts.js';

// Each key's slots are one sorted set: member the connection id, score the Redis time (ms) its slot
// expires at unless its process renews it. Expired members are dropped by every script before it
// counts, so a dead process's slots free themselves `ttl` ms after its last renewal; the set itself
// expires with its last member.
const NOW = `local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local key, ttl = KEYS[1], tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', '(' .. now)
local function expireWithLast()
  local last = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if last[2] then redis.call('PEXPIREAT', key, string.format('%d', tonumber(last[2]))) end
end
`;

/**
 * KEYS: the set. ARGV: ttl ms, connection id, max. Takes a slot for the connection unless `max`
 * live ones are taken (one it holds already is renewed). Returns 1 when it holds one, else 0.
 */
const CLAIM_SCRIPT = script(
	`${NOW}local id, max = ARGV[2], tonumber(ARGV[3])
if not redis.call('ZSCORE', key, id) and redis.call('ZCARD', key) >= max then return 0 end
redis.call('ZADD', key, now + ttl, id)
expireWithLast()
return 1`,
	1
);

/**
 * KEYS: the set. ARGV: ttl ms, then the connection ids this process holds slots for there. Renews
 * them, writing again any Redis lost (it restarted empty): an open connection keeps its slot.
 */
const RENEW_SCRIPT = script(
	`${NOW}for index = 2, #ARGV do redis.call('ZADD', key, now + ttl, ARGV[index]) end
expireWithLast()
return 1`,
	1
);

/** What `RedisUserSlots` needs of its engine. */
export interface RedisUserSlotsOptions {
	readonly redis: RedisConnection;
	readonly prefix: string;
	/** Milliseconds a slot outlives its process's last renewal; renewed every third of it. */
	readonly ttl: number;
	/** Milliseconds a command may take. */
	readonly timeout: number;
	readonly report: (error: Error) => void;
}

/**
 * Per-user connection slots shared by every process on one Redis (or Redis Cluster: each key is
 * one sorted set, in its own slot). A claim and its count are one script, so two processes never
 * both take the last slot. This process renews its slots every `ttl / 3` ms; a process that dies
 * stops, and its slots expire `ttl` ms later. A claim Redis did not answer is kept here all the
 * same (the server admits the connection: the limit is not enforced while Redis is unreachable)
 * and written by the next renewal.
 */
export class RedisUserSlots implements EngineUserSlots {
	readonly #options: RedisUserSlotsOptions;
	/** Key → the connection ids this process holds slots for there. */
	readonly #held = new Map<string, Set<string>>();
	#timer: ReturnType<typeof setInterval> | undefined;
	#closed = false;

	constructor(options: RedisUserSlotsOptions) {
		this.#options = options;
	}

	/** Starts the renewals. */
	start(): void {
		if (this.#timer || this.#closed) return;
		this.#timer = setInterval(
			() => this.#renewAll(),
			Math.max(1, Math.floor(this.#options.ttl / 3))
		);
		this.#timer.unref?.();
	}

	async claim(key: string, connectionId: string, max: number): Promise<boolean> {
		if (this.#closed)
			throw new Error('runesocket/redis: cannot claim a slot: the engine is closed');
		try {
			const taken = await this.#run(`claim a connection slot of ${JSON.stringify(key)}`, () =>
				runScript(
					this.#options.redis,
					CLAIM_SCRIPT,
					[this.#key(key)],
					[Math.ceil(this.#options.ttl), connectionId, max]
				)
			);
			if (Number(taken) != 1) return false;
		} catch (error) {
			this.#hold(key, connectionId);
			throw error;
		}
		this.#hold(key, connectionId);
		return true;
	}

	async release(key: string, connectionId: string): Promise<void> {
		const held = this.#held.get(key);
		if (!held?.delete(connectionId)) return;
		if (!held.size) this.#held.delete(key);
		if (this.#closed) return;
		await this.#run(`release a connection slot of ${JSON.stringify(key)}`, () =>
			this.#options.redis.zrem(this.#key(key), connectionId)
		);
	}

	/** Stops the renewals; the slots still held expire after `ttl` unless released first. */
	close(): void {
		this.#closed = true;
		clearInterval(this.#timer);
		this.#held.clear();
	}

	#hold(key: string, connectionId: string): void {
		let held = this.#held.get(key);
		if (!held) this.#held.set(key, (held = new Set()));
		held.add(connectionId);
	}

	#renewAll(): void {
		if (this.#closed || this.#options.redis.status != 'ready') return;
		const ttl = Math.ceil(this.#options.ttl);
		for (const [key, held] of this.#held) {
			this.#run(`renew the connection slots of ${JSON.stringify(key)}`, () =>
				runScript(this.#options.redis, RENEW_SCRIPT, [this.#key(key)], [ttl, ...held])
			).catch((error: unknown) => this.#options.report(errorFrom(error)));
		}
	}

	#key(key: string): string {
		return userSlotsKey(this.#options.prefix, key);
	}

	#run<T>(what: string, run: () => Promise<T>): Promise<T> {
		const redis = this.#options.redis;
		throwUnlessReady(redis, what, 'the engine is not started');
		return commandWithin(redis, what, this.#options.timeout, run);
	}
}
