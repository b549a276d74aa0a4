// @vitest-environment jsdom
// Issue 21 in the page, as a model: whatever mix of keyed and unkeyed messages over a few rooms,
// names and keys arrives between flushes, each flush validates and shows exactly the reference's
// survivors (the waiting messages no later waiting one of the same room, name and key supersedes),
// in arrival order: nothing superseded is validated, nothing unkeyed is ever skipped.
import fc from 'fast-check';
import { flushSync, tick } from 'svelte';
import { describe, expect, it, vi } from 'vitest';
import { ClientMessage } from '../../../src/lib/index.js';
import { countedSchema, RoomDeliveries, type Reading } from '../../kit/svelte/conflation.js';
import { arrival, connectedLive } from '../../kit/svelte/live.svelte.js';

// The real `ws` (not its browser stub) for the sockets and the test servers.
vi.mock('ws', () => import('../../kit/svelte/node-ws.js'));

const RUNS = process.env.SOAK == '1' ? 2_000 : 100;
const NAMES = ['r0', 'r1'] as const;
const ROOMS = ['a', 'b'];
const KEYS = ['k0', 'k1', 'k2'];

/** A message as the model sends it: `v` is its place in the run, a string when it is invalid. */
interface Sent {
	readonly name: (typeof NAMES)[number];
	readonly room: string;
	readonly reading: Reading;
}

/** A message (one in ten invalid), or a flush: the messages since the last one arrive first. */
const event = fc.oneof(
	{
		weight: 5,
		arbitrary: fc.record({
			name: fc.constantFrom(...NAMES),
			room: fc.constantFrom(...ROOMS),
			key: fc.option(fc.constantFrom(...KEYS), { nil: undefined }),
			valid: fc.nat(9).map((n) => n > 0)
		})
	},
	{ weight: 1, arbitrary: fc.constant('flush' as const) }
);

/** The waiting messages no later waiting one of the same room, name and key supersedes. */
function survivors(waiting: readonly Sent[]): Sent[] {
	return waiting.filter(
		({ name, room, reading: { key } }, at) =>
			key === undefined ||
			!waiting
				.slice(at + 1)
				.some((later) => later.name == name && later.room == room && later.reading.key == key)
	);
}

describe('conflation in the page, as a model', () => {
	it('each flush validates and shows exactly the survivors of what waited, in order', async () => {
		// One connection for every run (connect() holds it between them), new feeds in each.
		const { socket, frames, peer } = await connectedLive();
		const given = socket.client;
		const rooms = new RoomDeliveries(peer);
		await fc.assert(
			fc.asyncProperty(fc.array(event, { maxLength: 30 }), async (events) => {
				const feeds = NAMES.map((name) => {
					const counted = countedSchema();
					const definition = ClientMessage.define(name, counted.schema);
					return {
						validated: counted.validated,
						latest: socket.latest(definition),
						stream: socket.stream(definition, { limit: 1_000 }),
						collection: socket.collection(definition, {
							key: (reading) => reading.key ?? 'none'
						})
					};
				});
				const stop = $effect.root(() => {
					$effect(() => {
						for (const feed of feeds)
							void [feed.latest.current, feed.stream.current, feed.collection.values];
					});
				});
				flushSync();
				const errors: string[] = [];
				const offError = given.onError((error) => errors.push(error.message));
				// The reference: what each definition validated and shows, and the errors it reported.
				const expected = NAMES.map(() => ({
					validated: [] as Reading[],
					stream: [] as Reading[],
					latest: undefined as Reading | undefined,
					collection: new Map<string, Reading>()
				}));
				const expectedErrors: string[] = [];
				let waiting: Sent[] = [];
				try {
					for (const [n, step] of [...events, 'flush' as const].entries()) {
						if (step !== 'flush') {
							const reading: Reading = { key: step.key, v: step.valid ? n : `bad ${n}` };
							waiting.push({ name: step.name, room: step.room, reading });
							continue;
						}
						if (waiting.length) {
							const arrived = arrival(given, waiting.length);
							for (const { name, room, reading } of waiting) rooms.send(name, room, reading);
							await arrived;
						}
						frames.run();
						for (const { name, reading } of survivors(waiting)) {
							const model = expected[NAMES.indexOf(name)];
							model.validated.push(reading);
							if (typeof reading.v == 'string') {
								expectedErrors.push(`Invalid "${name}": v must be a number`);
								continue;
							}
							model.stream.unshift(reading);
							model.latest = reading;
							model.collection.set(reading.key ?? 'none', reading);
						}
						waiting = [];
						feeds.forEach((feed, at) => {
							const model = expected[at];
							expect(feed.validated).toEqual(model.validated);
							expect(feed.stream.current).toEqual(model.stream);
							expect(feed.latest.current).toEqual(model.latest);
							expect(feed.collection.current).toEqual(model.collection);
						});
						expect(errors).toEqual(expectedErrors);
						expect(frames.pending).toBe(0);
					}
				} finally {
					offError();
					stop();
					await tick(); // the feeds stop following
				}
			}),
			{ numRuns: RUNS }
		);
	});
});
