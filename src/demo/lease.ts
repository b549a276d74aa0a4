import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';

// Extends the lease only while this holder still owns it: a holder that paused past the lease's
// expiry must not renew a lease another process took meanwhile.
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`;

// Gives the lease up only when it is still this holder's, so the next one takes over at once.
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`;

/**
 * A lease in Redis that at most one process holds at a time: `SET key token NX PX ttl`, renewed
 * every third of `ttl`. When the holder dies or loses Redis, its lease lapses within `ttl` and
 * another process takes it on its next attempt. `onChange` tells the outcome of the first attempt,
 * then every change: `true` when this process got it, `false` when it did not or lost it (a renewal refused or failed: it must stop at once, another
 * process may take over).
 *
 * @example
 * ```ts
 * const lease = new RedisLease(redis, 'demo:simulator', 10_000, (held) => (held ? start() : stop()));
 * lease.start();
 * await lease.stop();
 * ```
 */
export class RedisLease {
	readonly #redis: Redis;
	readonly #key: string;
	readonly #ttl: number;
	readonly #onChange: (held: boolean) => void;
	readonly #token = randomUUID();
	/** Undefined until the first attempt: its outcome is reported either way. */
	#held: boolean | undefined;
	#timer: ReturnType<typeof setTimeout> | undefined;
	#stopped = false;

	constructor(redis: Redis, key: string, ttl: number, onChange: (held: boolean) => void) {
		this.#redis = redis;
		this.#key = key;
		this.#ttl = ttl;
		this.#onChange = onChange;
	}

	/** Whether this process holds the lease (as of its last attempt). */
	get held(): boolean {
		return this.#held === true;
	}

	/** Tries to take the lease now, then keeps taking or renewing it. */
	start(): void {
		void this.#attempt();
	}

	/** Stops trying, and releases the lease if this process holds it. */
	async stop(): Promise<void> {
		this.#stopped = true;
		clearTimeout(this.#timer);
		if (!this.#held) return;
		this.#held = false;
		this.#onChange(false);
		await this.#redis.eval(RELEASE, 1, this.#key, this.#token).catch(() => {});
	}

	async #attempt(): Promise<void> {
		let held: boolean;
		try {
			held = this.#held
				? Number(await this.#redis.eval(RENEW, 1, this.#key, this.#token, this.#ttl)) == 1
				: (await this.#redis.set(this.#key, this.#token, 'PX', this.#ttl, 'NX')) == 'OK';
		} catch {
			held = false;
		}
		if (this.#stopped) return;
		this.#set(held);
		this.#timer = setTimeout(() => void this.#attempt(), Math.max(1, Math.floor(this.#ttl / 3)));
	}

	#set(held: boolean): void {
		if (held == this.#held) return;
		this.#held = held;
		this.#onChange(held);
	}
}
