/**
 * `runesocket/redis`: the Redis engine, so several server processes share rooms, offsets and
 * history, and a publisher for processes that run no socket server. Needs `ioredis` ^6 (an
 * optional peer dependency).
 *
 * It exports what an app writes: the two classes and their options. The Engine contract they
 * implement is the server's business (`runesocket/server`); a publisher process defines its
 * messages with `ClientMessage` from `runesocket`, in the module its clients import too.
 *
 * @example
 * ```ts
 * import { createSocketServer } from 'runesocket/server';
 * import { RedisEngine, RedisPublisher } from 'runesocket/redis';
 *
 * const server = createSocketServer({
 * 	engine: new RedisEngine({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
 * 	routes: [{ path: '/ws' }]
 * });
 *
 * // In a worker or a cron job: same rooms, same offsets and history.
 * const publisher = new RedisPublisher({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' });
 * await publisher.to('lobby').emit(Announcement, { text: 'Deploy at 18:00' });
 * ```
 */
export { RedisEngine } from './redis-engine.js';
export type { RedisEngineOptions } from './redis-engine.js';
export { RedisPublisher } from './redis-publisher.js';
export type { RedisPublisherOptions, RedisPublishOptions } from './redis-publisher.js';
export type { RedisClusterConfig, RedisTarget } from './connections.js';
