import type { Monitor } from './messages.js';
import type { DashboardStore } from './store.js';
import { NewTeamQuota } from './team-quota.js';

/**
 * How many demo accounts (teams) may exist at once, and how long one nobody uses lives on.
 *
 * @example
 * ```ts
 * const limits: AccountLimits = { maxAccounts: 50, idleTimeout: 10 * 60_000, newTeamsPerClient: 5 };
 * ```
 */
export interface AccountLimits {
	/** At most this many accounts; a new team beyond it replaces the longest-idle one. */
	maxAccounts: number;
	/** An account without a viewer and without a sign-in for this long is removed (ms). */
	idleTimeout: number;
	/**
	 * At most this many new teams per client address in any `idleTimeout`: by then the teams it
	 * made and left are gone, and one client can never hold every place.
	 */
	newTeamsPerClient: number;
}

/**
 * The demo's limits unless the environment says otherwise: a public demo needs a few dozen teams,
 * a team that closed its tabs ten minutes ago is not coming back to the same incidents, and a
 * person trying the demo opens a team or two (five leaves room for an office behind one address).
 *
 * @example
 * ```ts
 * new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => []);
 * ```
 */
export const DEFAULT_ACCOUNT_LIMITS: AccountLimits = {
	maxAccounts: 50,
	idleTimeout: 10 * 60_000,
	newTeamsPerClient: 5
};

/**
 * Limits from DEMO_MAX_ACCOUNTS, DEMO_ACCOUNT_IDLE_MS and DEMO_NEW_TEAMS_PER_CLIENT; missing or
 * invalid values keep the default.
 *
 * @example
 * ```ts
 * accountLimitsFromEnvironment({ DEMO_MAX_ACCOUNTS: '10' });
 * // { maxAccounts: 10, idleTimeout: 600_000, newTeamsPerClient: 5 }
 * ```
 */
export function accountLimitsFromEnvironment(
	env: Record<string, string | undefined>
): AccountLimits {
	const positive = (value: string | undefined, fallback: number) => {
		const parsed = Number(value);
		return value !== undefined && Number.isSafeInteger(parsed) && parsed > 0 ? parsed : fallback;
	};
	return {
		maxAccounts: positive(env.DEMO_MAX_ACCOUNTS, DEFAULT_ACCOUNT_LIMITS.maxAccounts),
		idleTimeout: positive(env.DEMO_ACCOUNT_IDLE_MS, DEFAULT_ACCOUNT_LIMITS.idleTimeout),
		newTeamsPerClient: positive(
			env.DEMO_NEW_TEAMS_PER_CLIENT,
			DEFAULT_ACCOUNT_LIMITS.newTeamsPerClient
		)
	};
}

/**
 * How often viewed accounts are marked active and idle ones removed: often enough that an account
 * viewed through another server process (which marks it at this pace) never looks idle.
 *
 * @example
 * ```ts
 * sweepInterval({ maxAccounts: 50, idleTimeout: 600_000 }); // 30_000
 * ```
 */
export function sweepInterval(limits: AccountLimits): number {
	return Math.max(1, Math.min(30_000, Math.floor(limits.idleTimeout / 4)));
}

/**
 * The demo's accounts under their limits. An account is *in use* while this process has a viewer of
 * it, or while it was active within the last two sweeps: a viewer on another process marks it every
 * sweep, and a fresh sign-in's page is about to connect. Only accounts in use are live (the simulator
 * acts on them); only accounts not in use are evicted or expire.
 *
 * @example
 * ```ts
 * const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => viewers());
 * const stop = accounts.start();
 * if (!(await accounts.admit('acme', () => seedMonitors('acme'), clientAddress))) refuse();
 * ```
 */
export class DemoAccounts {
	readonly #store: DashboardStore;
	readonly #limits: AccountLimits;
	readonly #viewed: () => Iterable<string>;
	readonly #now: () => number;
	readonly #newTeams: NewTeamQuota;
	/** Admissions and sweeps run one at a time, so two new teams cannot both take the last place. */
	#queue: Promise<unknown> = Promise.resolve();

	constructor(
		store: DashboardStore,
		limits: AccountLimits,
		viewedAccounts: () => Iterable<string>,
		now: () => number = Date.now
	) {
		this.#store = store;
		this.#limits = limits;
		this.#viewed = viewedAccounts;
		this.#now = now;
		this.#newTeams = new NewTeamQuota(limits.newTeamsPerClient, limits.idleTimeout, now);
	}

	/**
	 * Marks the account active, creating it (with `seed()`'s monitors) if it does not exist. A new
	 * account beyond `maxAccounts` first evicts the longest-idle account not in use; resolves false,
	 * creating nothing, when every account is in use, or when the client at address `from` created
	 * `newTeamsPerClient` already (`newTeamWait` says for how long).
	 */
	admit(account: string, seed: () => Monitor[], from?: string): Promise<boolean> {
		return this.#oneAtATime(async () => {
			const now = this.#now();
			const accounts = await this.#store.accounts();
			if (accounts.some((known) => known.account == account)) {
				await this.#store.touch([account], now);
				return true;
			}
			if (from !== undefined && this.#newTeams.wait(from) > 0) return false;
			const viewed = new Set(this.#viewed());
			const evictable = accounts.filter((known) => !this.#inUse(known, viewed, now));
			// Above the limit too: another process sharing the store may have admitted concurrently.
			for (let count = accounts.length; count >= this.#limits.maxAccounts; count--) {
				const oldest = evictable.shift();
				if (!oldest) return false;
				await this.#store.removeAccount(oldest.account);
			}
			await this.#store.ensureAccount(account, seed(), now);
			if (from !== undefined) this.#newTeams.record(from);
			return true;
		});
	}

	/** Milliseconds until the client at address `from` may create a new team: 0 when it may now. */
	newTeamWait(from: string): number {
		return this.#newTeams.wait(from);
	}

	/** The accounts in use, least recently active first: the ones worth publishing to. */
	async live(): Promise<string[]> {
		const now = this.#now();
		const viewed = new Set(this.#viewed());
		const accounts = await this.#store.accounts();
		return accounts
			.filter((known) => this.#inUse(known, viewed, now))
			.map((known) => known.account);
	}

	/** Marks the viewed accounts active and removes those idle for `idleTimeout`. */
	sweep(): Promise<void> {
		return this.#oneAtATime(async () => {
			const now = this.#now();
			const viewed = new Set(this.#viewed());
			if (viewed.size) await this.#store.touch([...viewed], now);
			for (const known of await this.#store.accounts()) {
				if (viewed.has(known.account) || now - known.activeAt < this.#limits.idleTimeout) continue;
				await this.#store.removeAccount(known.account);
			}
		});
	}

	/** Sweeps every `sweepInterval(limits)` until the returned function is called. */
	start(): () => void {
		const timer = setInterval(() => {
			// A failed sweep (e.g. Redis unavailable) changes nothing; the next one tries again.
			this.sweep().catch(() => {});
		}, sweepInterval(this.#limits));
		timer.unref();
		return () => clearInterval(timer);
	}

	#inUse(known: { account: string; activeAt: number }, viewed: Set<string>, now: number): boolean {
		return viewed.has(known.account) || now - known.activeAt < 2 * sweepInterval(this.#limits);
	}

	#oneAtATime<T>(task: () => Promise<T>): Promise<T> {
		const result = this.#queue.then(task);
		this.#queue = result.catch(() => {});
		return result;
	}
}
