import { Redis } from 'ioredis';
import type { Activity, Incident, Monitor } from './messages.js';
import { ACTIVITY_KEPT, type DashboardState, type DashboardStore } from './store.js';

const PREFIX = 'runesocket-demo:';

/**
 * The store several server processes share: one hash of incidents and one of monitors per account,
 * a capped list of activity, and the set of accounts (for the simulator).
 */
export class RedisDashboardStore implements DashboardStore {
	#redis: Redis;

	constructor(url: string) {
		this.#redis = new Redis(url, { maxRetriesPerRequest: 2 });
		// Without an 'error' listener, a Redis outage would crash the process.
		this.#redis.on('error', () => {});
	}

	#key(account: string, part: string): string {
		return `${PREFIX}${account}:${part}`;
	}

	async accounts(): Promise<string[]> {
		return this.#redis.smembers(`${PREFIX}accounts`);
	}

	async ensureAccount(account: string, monitors: Monitor[]): Promise<void> {
		if (!(await this.#redis.sadd(`${PREFIX}accounts`, account))) return;
		const fields = monitors.flatMap((monitor) => [monitor.uuid, JSON.stringify(monitor)]);
		// HSETNX-like: another process may have seeded (and flapped) them already.
		for (let index = 0; index < fields.length; index += 2) {
			await this.#redis.hsetnx(this.#key(account, 'monitors'), fields[index], fields[index + 1]);
		}
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

	async addIncident(incident: Incident): Promise<void> {
		await this.#redis.hset(
			this.#key(incident.account, 'incidents'),
			incident.uuid,
			JSON.stringify(incident)
		);
	}

	async removeIncident(account: string, uuid: string): Promise<Incident | undefined> {
		const key = this.#key(account, 'incidents');
		const json = await this.#redis.hget(key, uuid);
		// Only the process whose HDEL removed it resolved it: two concurrent resolves publish once.
		if (!json || !(await this.#redis.hdel(key, uuid))) return undefined;
		return JSON.parse(json) as Incident;
	}

	async putMonitor(monitor: Monitor): Promise<void> {
		await this.#redis.hset(
			this.#key(monitor.account, 'monitors'),
			monitor.uuid,
			JSON.stringify(monitor)
		);
	}

	async addActivity(account: string, activity: Activity): Promise<void> {
		const key = this.#key(account, 'activity');
		await this.#redis
			.multi()
			.lpush(key, JSON.stringify(activity))
			.ltrim(key, 0, ACTIVITY_KEPT - 1)
			.exec();
	}
}
