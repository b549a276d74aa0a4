/**
 * `runesocket/redis`: the Redis engine, so several server processes share rooms, offsets and
 * history, and a publisher for processes that run no socket server. Needs `ioredis` ^6 (an
 * optional peer dependency).
 *
 * It exports what an app writes: the two classes and their options. The Engine contract they
 * implement is the server's business (`runesocket/server`); a publisher process defines its
 * messages with `ClientMessage` from `runesocket`, in the module its clients import too.
 */
export { RedisEngine } from './redis-engine.js';
export type { RedisEngineOptions } from './redis-engine.js';
export { RedisPublisher } from './redis-publisher.js';
export type { RedisPublisherOptions, RedisPublishOptions } from './redis-publisher.js';
export type { RedisClusterConfig, RedisTarget } from './connections.js';
