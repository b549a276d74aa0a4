/**
 * A throughput scenario: how many clients in how many rooms, and how the server publishes.
 *
 * @example
 * const scenario: Scenario = { name: 'tiny', clients: 10, rooms: 1, publishesPerTurn: 1, publishes: 100, payloadBytes: 100 };
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
}

/**
 * The scenarios `npm run bench` runs, in order. Each run publishes as fast as the server takes it
 * (no pacing), so latency includes the queue the burst builds.
 *
 * @example
 * for (const scenario of scenarios) console.log(scenario.name);
 */
export const scenarios: readonly Scenario[] = [
	{
		name: '500 clients, 1 room, 1 publish per turn',
		clients: 500,
		rooms: 1,
		publishesPerTurn: 1,
		publishes: 1_000,
		payloadBytes: 100
	},
	{
		name: '500 clients, 1 room, 10 publishes per turn',
		clients: 500,
		rooms: 1,
		publishesPerTurn: 10,
		publishes: 1_000,
		payloadBytes: 100
	},
	{
		name: '1,000 clients in 100 rooms of 10, 10 publishes per turn (round-robin over rooms)',
		clients: 1_000,
		rooms: 100,
		publishesPerTurn: 10,
		publishes: 20_000,
		payloadBytes: 100
	}
];
