/**
 * Contenders of the single-process scenarios, in the order each round runs them.
 *
 * @example
 * const scenario: Scenario = { ...base, contenders: SINGLE_PROCESS_CONTENDERS };
 */
export const SINGLE_PROCESS_CONTENDERS = [
	'ws',
	'ws corked',
	'socket.io',
	'runesocket memory',
	'runesocket redis'
] as const;

/**
 * The series a scenario belongs to, for the tables that line up cost against payload size or
 * client count.
 *
 * @example
 * const series: Series = 'payload size';
 */
export type Series = 'payload size' | 'client count';

/**
 * A throughput scenario: how many clients in how many rooms on how many server processes, how the
 * server publishes, and which contenders run it.
 *
 * @example
 * const scenario: Scenario = { name: 'tiny', clients: 10, rooms: 1, publishesPerTurn: 1, publishes: 100, payloadBytes: 100, processes: 1, contenders: ['ws'], baselines: ['ws'] };
 */
export interface Scenario {
	name: string;
	clients: number;
	rooms: number;
	publishesPerTurn: number;
	/** Publishes per run (a multiple of `rooms`). */
	publishes: number;
	/** Bytes of the published payload (`{"seq":…,"t":…,"pad":"…"}`), approximately. */
	payloadBytes: number;
	/** Server processes per contender; clients are split over them in equal shares, the first publishes. */
	processes: number;
	contenders: readonly string[];
	/** Contenders the ratios are taken against. */
	baselines: readonly string[];
	series?: readonly Series[];
	/** A line printed under the table. */
	note?: string;
}

/**
 * The single-process contenders plus runesocket on the bench's 3-master Redis Cluster, for the
 * scenarios where the cluster row says most (one hot room; rooms spread over the slots) without
 * making the whole bench much longer.
 */
const WITH_CLUSTER = [...SINGLE_PROCESS_CONTENDERS, 'runesocket redis cluster'] as const;

const CLUSTER_NOTE =
	"runesocket redis cluster: one server process on the bench's Redis Cluster (3 masters, no replicas, --save '' --appendonly no); its redis-server CPU is the three nodes' summed.";

const singleProcess = {
	processes: 1,
	contenders: SINGLE_PROCESS_CONTENDERS,
	baselines: ['ws', 'socket.io'],
	publishesPerTurn: 1,
	rooms: 1,
	payloadBytes: 100
} as const;

const twoProcessesOnRedis = {
	clients: 500,
	rooms: 1,
	publishes: 1_000,
	payloadBytes: 100,
	processes: 2,
	contenders: ['runesocket redis', 'socket.io redis'],
	baselines: ['socket.io redis'],
	note: 'Two server processes of each contender share the bench redis-server; clients 0–249 are on the first, 250–499 on the second; the first process makes every publish. Server CPU is the sum over both processes.'
} as const;

/**
 * The scenarios `npm run bench` runs, in order. Each run publishes as fast as the server takes it
 * (no pacing), so latency includes the queue the burst builds. Publishes per run are chosen so a
 * run delivers 30k–500k messages, so one scenario takes under a minute on 2 cores (BENCHMARKS.md
 * gives each one's time in its heading).
 *
 * @example
 * for (const scenario of scenarios) console.log(scenario.name);
 */
export const scenarios: readonly Scenario[] = [
	{
		...singleProcess,
		name: '500 clients, 1 room, 1 publish per turn',
		clients: 500,
		publishes: 1_000,
		series: ['payload size', 'client count'],
		contenders: WITH_CLUSTER,
		note: CLUSTER_NOTE
	},
	{
		...singleProcess,
		name: '500 clients, 1 room, 10 publishes per turn',
		clients: 500,
		publishesPerTurn: 10,
		publishes: 1_000
	},
	{
		...singleProcess,
		name: '1,000 clients in 100 rooms of 10, 10 publishes per turn (round-robin over rooms)',
		clients: 1_000,
		rooms: 100,
		publishesPerTurn: 10,
		publishes: 20_000,
		contenders: WITH_CLUSTER,
		note: CLUSTER_NOTE
	},
	{
		...singleProcess,
		name: '500 clients, 1 room, 1 publish per turn, 1 KB',
		clients: 500,
		publishes: 500,
		payloadBytes: 1_024,
		series: ['payload size']
	},
	{
		...singleProcess,
		name: '500 clients, 1 room, 1 publish per turn, 16 KB',
		clients: 500,
		publishes: 60,
		payloadBytes: 16_384,
		series: ['payload size']
	},
	{
		...singleProcess,
		name: '100 clients, 1 room, 1 publish per turn',
		clients: 100,
		publishes: 2_500,
		series: ['client count']
	},
	{
		...singleProcess,
		name: '2,000 clients, 1 room, 1 publish per turn',
		clients: 2_000,
		publishes: 125,
		series: ['client count']
	},
	{
		...twoProcessesOnRedis,
		name: '2 processes on Redis, 250 clients each, 1 room, 1 publish per turn',
		publishesPerTurn: 1
	},
	{
		...twoProcessesOnRedis,
		name: '2 processes on Redis, 250 clients each, 1 room, 10 publishes per turn',
		publishesPerTurn: 10
	}
];
