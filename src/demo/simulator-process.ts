/**
 * The demo's simulator in a process of its own, for servers sharing one Redis (REDIS_URL): it
 * publishes with a `RedisPublisher`, so its messages take the rooms' offsets and history like the
 * servers' own. Every server process starts one (`forkSimulator`), and a Redis lease lets only one
 * of them run the simulator: when its holder dies, another takes over within the lease's time.
 *
 * Prints `simulator: running` when it took the lease and `simulator: standing by` when it did not
 * get it (on its first attempt, or after losing it). Ends with its parent (when forked), on SIGTERM or SIGINT.
 *
 * Usage: REDIS_URL=redis://127.0.0.1:6379 node --import tsx src/demo/simulator-process.ts, or after
 * `npm run build` (scripts/build-simulator.mjs bundles it): REDIS_URL=… node build/simulator.js
 */
import { Redis } from 'ioredis';
import { RedisPublisher } from 'runesocket/redis';
import { accountLimitsFromEnvironment, DemoAccounts } from './accounts.js';
import { Dashboard } from './dashboard.js';
import { RedisLease } from './lease.js';
import { RedisDashboardStore } from './redis-store.js';
import { leaseFromEnvironment, ratesFromEnvironment, startSimulator } from './simulator.js';

const redisUrl = process.env.REDIS_URL;
if (!redisUrl) {
	console.error('simulator: REDIS_URL is not set');
	process.exit(1);
}

const limits = accountLimitsFromEnvironment(process.env);
const store = new RedisDashboardStore(redisUrl, { retention: 2 * limits.idleTimeout });
const publisher = new RedisPublisher({ redis: redisUrl, onError: () => {} });
// This process has no viewers of its own: the accounts in use are those the servers mark active.
const dashboard = new Dashboard(store, publisher, new DemoAccounts(store, limits, () => []));
const rates = ratesFromEnvironment(process.env);

const leaseConnection = new Redis(redisUrl, { maxRetriesPerRequest: 0, enableOfflineQueue: false });
leaseConnection.on('error', () => {});
let stopSimulator: (() => void) | undefined;
const lease = new RedisLease(
	leaseConnection,
	'runesocket-demo:simulator-lease',
	leaseFromEnvironment(process.env),
	(held) => {
		stopSimulator?.();
		stopSimulator = held ? startSimulator(dashboard, rates) : undefined;
		console.log(`simulator: ${held ? 'running' : 'standing by'}`);
	}
);
lease.start();

let stopping = false;
async function stop(): Promise<void> {
	if (stopping) return;
	stopping = true;
	stopSimulator?.();
	await lease.stop();
	await Promise.allSettled([publisher.close(), store.close(), leaseConnection.quit()]);
	process.exit(0);
}

process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());
// Forked by a server process: its end (even a crash) closes the IPC channel, and this one goes too.
process.once('disconnect', () => void stop());
