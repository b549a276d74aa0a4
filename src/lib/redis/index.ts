/**
 * `runesocket/redis`: the Redis engine, so several server processes share rooms, offsets and
 * history. Needs `ioredis` ^6 (an optional peer dependency).
 *
 * @example
 * ```ts
 * import { createSocketServer } from 'runesocket/server';
 * import { RedisEngine } from 'runesocket/redis';
 *
 * const server = createSocketServer({
 * 	engine: new RedisEngine({ redis: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' }),
 * 	routes: [{ path: '/ws' }]
 * });
 * ```
 */
export { RedisEngine } from './redis-engine.js';
export type { RedisEngineOptions } from './redis-engine.js';
export type {
	Engine,
	EngineHandlers,
	HistoryOptions,
	HistoryPolicy,
	HistoryResult,
	PublishOptions,
	StreamPosition
} from '../server/engine.js';
