import { RedisDashboardStore } from '../../src/demo/redis-store.js';
import { RedisEngine } from '../../src/lib/redis/index.js';
import type { Signal } from './chaos.js';
import type { RedisServer } from './servers/redis-server.js';

/** The demo account the simulator tests watch, and the room of its project web. */
export const DEMO_ACCOUNT = 'acme';
export const DEMO_WEB_ROOM = `project:${DEMO_ACCOUNT}/web`;

/** A change the simulator published to the watched room, as the engine delivered it. */
export interface PublishedChange {
	readonly offset: number;
}

/**
 * Puts the demo account in use on `redis` with one monitor in project web, and records every change
 * published to that room (waking `signal`) through an engine of its own. What it opens goes into
 * `closers`, for the test's afterEach.
 */
export async function watchDemoAccount(
	redis: RedisServer,
	signal: Signal,
	closers: (() => Promise<unknown>)[]
): Promise<PublishedChange[]> {
	const store = new RedisDashboardStore(redis.url, { retention: 60_000 });
	closers.push(() => store.close());
	const monitor = {
		uuid: `${DEMO_ACCOUNT}/web/homepage`,
		account: DEMO_ACCOUNT,
		project: 'web',
		name: 'Homepage',
		status: 'up' as const,
		changedAt: Date.now(),
		checks: [],
		spans: [{ at: Date.now(), status: 'up' as const }]
	};
	await store.ensureAccount(DEMO_ACCOUNT, [monitor], Date.now());
	const changes: PublishedChange[] = [];
	const engine = new RedisEngine({ redis: redis.url, onError: () => {} });
	closers.push(() => engine.close());
	await engine.start({
		deliver: (_room, message) => {
			changes.push(message as PublishedChange);
			signal.changed();
		}
	});
	await engine.subscribe(DEMO_WEB_ROOM);
	return changes;
}
