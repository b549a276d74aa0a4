import { describe, expect, it } from 'vitest';
import type { RequestKeyLimits } from '../../../src/lib/engine/engine.js';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { requestKeyNames } from '../../../src/lib/redis/keys.js';
import { closedAfterTest } from '../../kit/redis-engines.js';
import { startRedisCluster, type RedisClusterProcess } from '../../kit/servers/redis-cluster.js';

// Request keys on a 3-master Redis Cluster: each scope's four keys live in its slot, so the claim
// and settle scripts run there; scopes spread over the masters.

const LIMITS: RequestKeyLimits = { window: 60_000, lease: 30_000, maxKeys: 2, maxBytes: 65_536 };
const SCOPES = ['/ws ada', '/ws bob', '/ws }', '/ws {', '/ws {cy}', '}{', '/ws dan', '/ws eve'];

async function keysOn(cluster: RedisClusterProcess) {
	const engine = closedAfterTest(
		new RedisEngine({ redis: { cluster: cluster.nodes }, onError: () => {} })
	);
	await engine.start({ deliver: () => {} });
	return engine.requestKeys!;
}

describe('request keys on a Redis Cluster', { timeout: 60_000 }, () => {
	it('claims once across two processes, keeps the answer and evicts, in every scope’s own slot', async () => {
		const cluster = await startRedisCluster();
		const [a, b] = [await keysOn(cluster), await keysOn(cluster)];
		const masters = await Promise.all(
			SCOPES.map((scope) => cluster.masterOf(requestKeyNames('runesocket:', scope).claims))
		);
		expect(new Set(masters).size).toBeGreaterThan(1);
		await Promise.all(
			SCOPES.map(async (scope) => {
				for (const key of ['k1', 'k2', 'k3']) {
					const found = await Promise.all([
						a.claim(scope, key, LIMITS),
						b.claim(scope, key, LIMITS)
					]);
					expect(found.map((state) => state.state).sort(), scope).toEqual(['claimed', 'running']);
					const answer = JSON.stringify(['reply', { scope, key }]);
					await (found[0].state == 'claimed' ? a : b).settle(scope, key, answer, LIMITS);
					expect(await b.claim(scope, key, LIMITS)).toEqual({ state: 'answered', answer });
				}
				// maxKeys 2: the oldest went.
				expect(await a.claim(scope, 'k1', LIMITS), scope).toEqual({ state: 'claimed' });
				await a.release(scope, 'k1');
				expect(await b.claim(scope, 'k1', LIMITS), scope).toEqual({ state: 'claimed' });
			})
		);
	});
});
