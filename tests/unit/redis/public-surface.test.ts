import { describe, expect, expectTypeOf, it } from 'vitest';
import * as redis from '../../../src/lib/redis/index.js';
import type {
	RedisClusterConfig,
	RedisEngineOptions,
	RedisPublishOptions,
	RedisPublisherOptions,
	RedisTarget
} from '../../../src/lib/redis/index.js';

describe('the redis entry', () => {
	it('exports the two classes an app uses and nothing else at runtime', () => {
		expect(Object.keys(redis).sort()).toEqual(['RedisEngine', 'RedisPublisher']);
	});

	it('exports the option and target types an app writes', () => {
		expectTypeOf<RedisEngineOptions['redis']>().toEqualTypeOf<RedisTarget>();
		expectTypeOf<RedisPublisherOptions['redis']>().toEqualTypeOf<RedisTarget>();
		expectTypeOf<RedisPublishOptions['room']>().toEqualTypeOf<string | undefined>();
		expectTypeOf<RedisClusterConfig>().toExtend<RedisTarget>();
	});
});
