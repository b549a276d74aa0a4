import { Redis } from 'ioredis';
import type { Activity, Incident, Monitor } from './messages.js';
import {
	ACTIVITY_KEPT,
	type AccountActivity,
	type IncidentAdded,
	type DashboardState,
	type DashboardStore
} from './store.js';

const PREFIX = 'runesocket-demo:';
/** A sorted set: every account, scored by when it was last active. */
const ACCOUNTS = `${PREFIX}accounts-by-activity`;
const PARTS = ['incidents', 'monitors', 'activity'] as const;
/** How often a change of an incident is tried again when other processes keep changing it. */
const CHANGE_ATTEMPTS = 20;
/** HSET KEYS[1] ARGV[1] = ARGV[3] only while it still holds ARGV[2]; ARGV[4] is the key's lifetime. */
const REPLACE_IF_UNCHANGED = `
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/**
 * HSET KEYS[1] ARGV[1] = ARGV[2] unless KEYS[1] holds ARGV[1] already (-1) or ARGV[3] incidents or
 * more that are not resolved (0); ARGV[4] is the key's lifetime. Counted and written in one step, so
 * processes adding at once cannot pass the limit together, nor both add one id.
 */
const ADD_UNLESS_FULL = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return -1 end
local open = 0
for _, json in ipairs(redis.call('HVALS', KEYS[1])) do
  if cjson.decode(json).status ~= 'resolved' then open = open + 1 end
end
if open >= tonumber(ARGV[3]) then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1`;

/** What ADD_UNLESS_FULL's answer means. */
const ADDED: Record<number, IncidentAdded> = { 1: 'added', 0: 'too-many-open', [-1]: 'taken' };

/**
 * The store several server processes share: one hash of incidents and one of monitors per account,
 * a capped list of activity, the accounts by when each was last active, and a key per revoked
 * session. Every key of an account
 * also expires `retention` ms after its last write or activity, so whatever a race or a stopped
 * deployment leaves behind goes away on its own.
 */
export class RedisDashboardStore implements DashboardStore {
	#redis: Redis;
	#retention: number;

	constructor(url: string, { retention }: { retention: number }) {
		this.#redis = new Redis(url, { maxRetriesPerRequest: 2 });
		this.#retention = retention;
		// Without an 'error' listener, a Redis outage would crash the process.
		this.#redis.on('error', () => {});
	}

	#key(account: string, part: (typeof PARTS)[number]): string {
		return `${PREFIX}${account}:${part}`;
	}

	async accounts(): Promise<AccountActivity[]> {
		// RESP3 answers [[member, score], …], RESP2 [member, score, …]: flat, both read alike.
		const flat = (
			(await this.#redis.zrange(ACCOUNTS, '0', '-1', 'WITHSCORES')) as unknown[]
		).flat();
		const accounts: AccountActivity[] = [];
		for (let index = 0; index + 1 < flat.length; index += 2) {
			accounts.push({ account: String(flat[index]), activeAt: Number(flat[index + 1]) });
		}
		return accounts;
	}

	async ensureAccount(account: string, monitors: Monitor[], now: number): Promise<void> {
		// Only the process whose ZADD added the account seeds it; it starts clean, whatever a late
		// write to an earlier account of that name left behind.
		if (Number(await this.#redis.zadd(ACCOUNTS, now, account))) {
			const key = this.#key(account, 'monitors');
			await this.#redis
				.multi()
				.del(...PARTS.map((part) => this.#key(account, part)))
				.hset(key, ...monitors.flatMap((monitor) => [monitor.uuid, JSON.stringify(monitor)]))
				.exec();
		}
		await this.#keepAlive([account]);
	}

	async touch(accounts: string[], now: number): Promise<void> {
		if (!accounts.length) return;
		await this.#redis.zadd(ACCOUNTS, 'XX', ...accounts.flatMap((account) => [now, account]));
		await this.#keepAlive(accounts);
	}

	async removeAccount(account: string): Promise<void> {
		await this.#redis
			.multi()
			.zrem(ACCOUNTS, account)
			.del(...PARTS.map((part) => this.#key(account, part)))
			.exec();
	}

	async snapshot(account: string): Promise<DashboardState> {
		const [incidents, monitors, activity] = await Promise.all([
			this.#redis.hvals(this.#key(account, 'incidents')),
			this.#redis.hvals(this.#key(account, 'monitors')),
			this.#redis.lrange(this.#key(account, 'activity'), 0, ACTIVITY_KEPT - 1)
		]);
		return {
			incidents: incidents.map((json) => JSON.parse(json) as Incident),
			monitors: monitors.map((json) => JSON.parse(json) as Monitor),
			activity: activity.map((json) => JSON.parse(json) as Activity)
		};
	}

	async addIncident(incident: Incident, maxOpen: number): Promise<IncidentAdded> {
		const added = await this.#redis.eval(
			ADD_UNLESS_FULL,
			1,
			this.#key(incident.account, 'incidents'),
			incident.uuid,
			JSON.stringify(incident),
			maxOpen,
			this.#retention
		);
		return ADDED[Number(added)]!;
	}

	async changeIncident(
		account: string,
		uuid: string,
		change: (incident: Incident) => Incident | undefined
	): Promise<Incident | undefined> {
		const key = this.#key(account, 'incidents');
		// Compare and set: a write that finds another process changed the incident since it was read
		// starts over from the newer one, so two concurrent resolves publish once, and no update is lost.
		for (let attempt = 0; attempt < CHANGE_ATTEMPTS; attempt++) {
			const json = await this.#redis.hget(key, uuid);
			const changed = json ? change(JSON.parse(json) as Incident) : undefined;
			if (!json || !changed) return undefined;
			const written = await this.#redis.eval(
				REPLACE_IF_UNCHANGED,
				1,
				key,
				uuid,
				json,
				JSON.stringify(changed),
				this.#retention
			);
			if (written) return changed;
		}
		throw new Error(`The incident ${uuid} kept changing under ${CHANGE_ATTEMPTS} attempts`);
	}

	async removeIncident(account: string, uuid: string): Promise<Incident | undefined> {
		const key = this.#key(account, 'incidents');
		const json = await this.#redis.hget(key, uuid);
		// Only the process whose HDEL removed it gets it: two concurrent removals publish once.
		if (!json || !(await this.#redis.hdel(key, uuid))) return undefined;
		return JSON.parse(json) as Incident;
	}

	async putMonitor(monitor: Monitor): Promise<void> {
		const key = this.#key(monitor.account, 'monitors');
		await this.#redis
			.multi()
			.hset(key, monitor.uuid, JSON.stringify(monitor))
			.pexpire(key, this.#retention)
			.exec();
	}

	async addActivity(account: string, activity: Activity): Promise<void> {
		const key = this.#key(account, 'activity');
		await this.#redis
			.multi()
			.lpush(key, JSON.stringify(activity))
			.ltrim(key, 0, ACTIVITY_KEPT - 1)
			.pexpire(key, this.#retention)
			.exec();
	}

	async revokeSession(sid: string, ttl: number): Promise<void> {
		await this.#redis.set(this.#revokedKey(sid), '1', 'PX', ttl);
	}

	async isSessionRevoked(sid: string): Promise<boolean> {
		return (await this.#redis.exists(this.#revokedKey(sid))) > 0;
	}

	/** One key per revoked session, which Redis drops once no token of the session can be good. */
	#revokedKey(sid: string): string {
		return `${PREFIX}revoked-session:${sid}`;
	}

	/** Pushes back the expiry of every key of these accounts. */
	async #keepAlive(accounts: string[]): Promise<void> {
		const renewing = this.#redis.multi();
		for (const account of accounts) {
			for (const part of PARTS) renewing.pexpire(this.#key(account, part), this.#retention);
		}
		await renewing.exec();
	}

	/** Closes the connection to Redis. */
	async close(): Promise<void> {
		await this.#redis.quit();
	}
}
