// Conflation keys through Redis: a RedisPublisher (its own connections, as another process would
// have) publishes keyed messages; a server on a RedisEngine delivers them live with their key (pub/sub
// keeps it), and replays from Redis history only the unkeyed ones and the newest per name and key.
import { afterEach, describe, expect, it } from 'vitest';
import { RedisEngine, RedisPublisher } from '../../../src/lib/redis/index.js';
import { expectReplayConflated } from '../../kit/conflation.js';
import { serve } from '../../kit/limits.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';

const publishers: RedisPublisher[] = [];

afterEach(async () => {
	await Promise.all(publishers.splice(0).map((publisher) => publisher.close()));
});

describe('replay with conflation keys (RedisEngine, RedisPublisher)', () => {
	it('keeps the key through pub/sub and history, and replays the newest per name and key', async () => {
		const redis = await startRedisServer();
		const history = { size: 1_000 };
		const engine = new RedisEngine({ redis: redis.url, history, onError: () => {} });
		const server = await serve({}, { engine });
		const publisher = new RedisPublisher({ redis: redis.url, history, onError: () => {} });
		publishers.push(publisher);
		const { sockets } = server;
		const room = 'board';
		const live = await expectReplayConflated({
			url: server.url(),
			room,
			publish: (definition, data, conflationKey) =>
				publisher.publish(definition, data as never, { room, conflationKey }),
			position: () => publisher.position(room),
			conflated: () => sockets.metricsSnapshot().messagesConflated['/ws'] ?? 0,
			connections: () => sockets.connections.size
		});
		expect(live.map((message) => message.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
	});
});
