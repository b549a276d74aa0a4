// What the RedisEngine tests share (tests/integration/redis/redis-engine-*.test.ts): engines that
// stand for server processes on one Redis, logging what each delivered, its resyncs, health
// changes and errors, so tests wait on those events, never on a clock.
import { afterEach } from 'vitest';
import { RedisEngine, type RedisEngineOptions } from '../../src/lib/redis/index.js';
import { Signal } from './chaos.js';
import type { RedisServer } from './servers/redis-server.js';

/** A message an engine delivered to its process. */
export interface Delivery {
	readonly room: string;
	readonly message: unknown;
	readonly except?: string;
}

/** One process's engine, what it delivered, its resyncs, health changes and errors. */
export interface EngineProcess {
	readonly engine: RedisEngine;
	readonly delivered: Delivery[];
	resyncs: number;
	readonly health: boolean[];
	readonly errors: Error[];
	/** Resolves with the deliveries once `count` of them match. */
	received(
		match: (delivery: Delivery) => boolean,
		count?: number,
		what?: string
	): Promise<Delivery[]>;
	/** Resolves once `healthy` is `value`. */
	healthy(value: boolean): Promise<void>;
	/** Resolves once `condition` holds (checked after each delivery, resync or health change). */
	until(condition: () => boolean, what: string, ms?: number): Promise<void>;
}

const engines: RedisEngine[] = [];

afterEach(async () => {
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
});

/** `engine`, closed after the test. */
export function closedAfterTest(engine: RedisEngine): RedisEngine {
	engines.push(engine);
	return engine;
}

/** A started engine on `redis`, as one server process has it; closed after the test. */
export async function engineProcess(
	redis: RedisServer,
	options: Partial<RedisEngineOptions> = {}
): Promise<EngineProcess> {
	const errors: Error[] = [];
	const signal = new Signal();
	const wake = () => signal.changed();
	const engine = closedAfterTest(
		new RedisEngine({
			redis: redis.url,
			onError: (error) => {
				errors.push(error);
				wake();
			},
			...options
		})
	);
	const until = (condition: () => boolean, what: string, ms = 5_000) =>
		signal.until(condition, what, ms);
	const self: EngineProcess = {
		engine,
		delivered: [],
		resyncs: 0,
		health: [],
		errors,
		until,
		received: async (match, count = 1, what = 'deliveries') => {
			await until(() => self.delivered.filter(match).length >= count, `${count} × ${what}`);
			return self.delivered.filter(match);
		},
		healthy: (value) => until(() => engine.healthy == value, `healthy == ${value}`, 10_000)
	};
	engine.onHealthChange((healthy) => {
		self.health.push(healthy);
		wake();
	});
	await engine.start({
		deliver: (room, message, except) => {
			self.delivered.push({ room, message, except });
			wake();
		},
		resync: () => {
			self.resyncs++;
			wake();
		}
	});
	return self;
}

/** Matches the deliveries to `room`. */
export const inRoom = (room: string) => (delivery: Delivery) => delivery.room == room;

/** Matches the deliveries of messages named `name`. */
export const named = (name: string) => (delivery: Delivery) =>
	(delivery.message as { name?: string } | null)?.name == name;
