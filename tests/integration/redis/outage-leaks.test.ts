import { Cluster, Redis } from 'ioredis';
import type { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RedisEngine } from '../../../src/lib/redis/index.js';
import { Signal } from '../../kit/chaos.js';
import { startRedisCluster } from '../../kit/servers/redis-cluster.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';

// Every outage makes the engine subscribe all its rooms again. Whatever that leaves behind must not
// add up: after many outages the listeners on the clients and ioredis' own records of what is
// subscribed must be what they were after the first. ioredis 6's cluster client appended a room's
// channel to its record at every SSUBSCRIBE, so each outage added as many entries as there are
// rooms (and it resubscribed all of them, duplicates included, at every node change).

/** `npm run soak` (SOAK=1) runs 20 outages; the quick form 5. */
const OUTAGES = process.env.SOAK == '1' ? 20 : 5;
const ROOMS = 40;

const engines: RedisEngine[] = [];
const clients: (Redis | Cluster)[] = [];

afterEach(async () => {
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
	for (const client of clients.splice(0)) client.disconnect();
	vi.restoreAllMocks();
});

/** Listeners on `emitter`, every event together. */
function listenersOn(emitter: EventEmitter | null | undefined): number {
	if (!emitter) return 0;
	return emitter.eventNames().reduce((sum: number, name) => sum + emitter.listenerCount(name), 0);
}

/** What ioredis keeps of a single Redis subscriber: its listeners and subscribed channels. */
function singleCounts(commands: Redis, subscriber: Redis): Record<string, number> {
	const subscribed = (
		subscriber as unknown as { condition?: { subscriber?: { channels(type: string): string[] } } }
	).condition?.subscriber;
	return {
		commandListeners: listenersOn(commands),
		subscriberListeners: listenersOn(subscriber),
		subscribedChannels: subscribed?.channels('subscribe').length ?? -1
	};
}

/** The parts of ioredis' cluster client the sharded subscribers live in (no public API has them). */
interface ShardedInternals {
	shardedSubscribers: {
		channels: Map<number, string[]>;
		shardedSubscribers: Map<string, { getInstance(): Redis | null }>;
	};
	subscriberGroupEmitter: EventEmitter;
}

/** What ioredis keeps of a sharded cluster subscriber: listeners, subscribers, recorded channels. */
function clusterCounts(commands: Cluster, subscriber: Cluster): Record<string, number> {
	const internals = subscriber as unknown as ShardedInternals;
	const group = internals.shardedSubscribers;
	const nodes = [...group.shardedSubscribers.values()].map((shard) => shard.getInstance());
	return {
		commandListeners: listenersOn(commands),
		subscriberListeners: listenersOn(subscriber),
		groupListeners: listenersOn(internals.subscriberGroupEmitter),
		shardedSubscribers: nodes.length,
		shardListeners: nodes.reduce((sum, node) => sum + listenersOn(node), 0),
		recordedChannels: [...group.channels.values()].reduce((sum, list) => sum + list.length, 0)
	};
}

/** An engine on the app's own client (so the test sees the subscriber it duplicates), its rooms subscribed. */
async function engineWithRooms<Client extends Redis | Cluster>(
	commands: Client,
	duplicates: { mock: { results: { value: unknown }[] } }
) {
	const signal = new Signal();
	const delivered: string[] = [];
	const engine = new RedisEngine({ redis: commands, onError: () => {} });
	engines.push(engine);
	engine.onHealthChange(() => signal.changed());
	const subscriber = duplicates.mock.results[0].value as Client;
	await commands.connect();
	await engine.start({
		deliver: (room) => {
			delivered.push(room);
			signal.changed();
		}
	});
	for (let index = 0; index < ROOMS; index++) await engine.subscribe(`room-${index}`);
	return { engine, subscriber, signal, delivered };
}

describe('RedisEngine after many Redis outages', { timeout: 90_000 }, () => {
	it(`single Redis killed and restarted ${OUTAGES} times: listeners and subscriptions stay as after the first`, async () => {
		const redis = await startRedisServer();
		const duplicates = vi.spyOn(Redis.prototype, 'duplicate');
		const commands = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 0 });
		commands.on('error', () => {});
		clients.push(commands);
		const { engine, subscriber, signal, delivered } = await engineWithRooms(commands, duplicates);

		const counts: Record<string, number>[] = [];
		for (let outage = 1; outage <= OUTAGES; outage++) {
			await redis.kill();
			await signal.until(() => !engine.healthy, `unhealthy in outage ${outage}`);
			await redis.restart();
			await signal.until(() => engine.healthy, `healthy after outage ${outage}`);
			counts.push(singleCounts(commands, subscriber));
		}
		console.log(`single Redis after outages 1 and ${OUTAGES}:`, counts[0], counts.at(-1));
		expect(counts[0].subscribedChannels).toBe(ROOMS + 1); // and the control channel
		expect(counts.at(-1)).toEqual(counts[0]);

		await engine.publish('room-7', { name: 'after', data: null });
		await signal.until(() => delivered.includes('room-7'), 'a delivery after the outages');
	});

	it(`Redis Cluster dropping every subscriber ${OUTAGES} times: listeners, sharded subscribers and ioredis' channel record stay as after the first`, async () => {
		const cluster = await startRedisCluster();
		const duplicates = vi.spyOn(Cluster.prototype, 'duplicate');
		const commands = new Cluster([...cluster.nodes], { lazyConnect: true });
		commands.on('error', () => {});
		clients.push(commands);
		const { engine, subscriber, signal, delivered } = await engineWithRooms(commands, duplicates);
		const before = clusterCounts(commands, subscriber);
		expect(before.recordedChannels).toBe(ROOMS + 1); // and the control channel

		const counts: Record<string, number>[] = [];
		for (let outage = 1; outage <= OUTAGES; outage++) {
			// Each master ends the engine's sharded subscriber connection, as a node restart would.
			const killed = await Promise.all(
				cluster.nodes.map(({ port }) => cluster.cli(port, 'client', 'kill', 'type', 'pubsub'))
			);
			// How many connections each node ended, for the report of an engine that stays healthy.
			const ended = killed.map((count) => count.trim()).join(',');
			await signal.until(() => !engine.healthy, `unhealthy in outage ${outage} (ended ${ended})`);
			await signal.until(() => engine.healthy, `healthy after outage ${outage}`);
			counts.push(clusterCounts(commands, subscriber));
		}
		console.log(`Redis Cluster after outages 1 and ${OUTAGES}:`, counts[0], counts.at(-1));
		expect(counts[0].recordedChannels).toBe(ROOMS + 1);
		expect(counts.at(-1)).toEqual(counts[0]);

		await engine.publish('room-7', { name: 'after', data: null });
		await signal.until(() => delivered.includes('room-7'), 'a delivery after the outages');
	});
});
