import { fileURLToPath } from 'node:url';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as redis from '../../../src/lib/redis/index.js';
import type {
	RedisClusterConfig,
	RedisEngineOptions,
	RedisPublishOptions,
	RedisPublisherOptions,
	RedisTarget
} from '../../../src/lib/redis/index.js';
import { exportedNames } from '../../kit/entry-names.js';

const RUNTIME = ['RedisEngine', 'RedisPublisher'];
const TYPES = [
	'RedisClusterConfig',
	'RedisEngineOptions',
	'RedisPublishOptions',
	'RedisPublisherOptions',
	'RedisTarget'
];

describe('the redis entry', () => {
	it('exports the two classes an app uses and nothing else at runtime', () => {
		expect(Object.keys(redis).sort()).toEqual(RUNTIME);
	});

	it('exports the option and target types an app writes', () => {
		expectTypeOf<RedisEngineOptions['redis']>().toEqualTypeOf<RedisTarget>();
		expectTypeOf<RedisPublisherOptions['redis']>().toEqualTypeOf<RedisTarget>();
		expectTypeOf<RedisPublishOptions['room']>().toEqualTypeOf<string | undefined>();
		expectTypeOf<RedisClusterConfig>().toExtend<RedisTarget>();
	});

	it('exports those classes and option types, nothing more', () => {
		const entry = fileURLToPath(new URL('../../../src/lib/redis/index.ts', import.meta.url));
		expect(exportedNames(entry)).toEqual([...RUNTIME, ...TYPES].sort());
	}, 30_000);
});
