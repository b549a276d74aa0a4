// @vitest-environment jsdom
// Issue 20: however the server's messages, reloads (replace) and the actions' settlements
// interleave, once everything has settled a collection shows exactly what the server's messages say,
// with nothing pending. The collection is driven through a FeedHost the test holds: no socket.
import fc from 'fast-check';
import { flushSync } from 'svelte';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientMessage } from '../../../src/lib/index.js';
import { Collection } from '../../../src/lib/svelte/collection.svelte.js';
import type { FeedHost } from '../../../src/lib/svelte/feed.js';
import { deferred } from '../../kit/peers/ws-peer.js';

const RUNS = process.env.SOAK == '1' ? 2_000 : 150;
const KEYS = ['k0', 'k1', 'k2'];

interface Item {
	key: string;
	v: string;
}
const Saved = ClientMessage.define<Item>('item.saved');

/** Something that happens to the collection, at a step of the run. */
type Event =
	| { at: number; kind: 'begin'; action: number }
	| { at: number; kind: 'settle'; action: number }
	| { at: number; kind: 'server'; item: Item | { key: string; removed: true } }
	| { at: number; kind: 'replace' }
	| { at: number; kind: 'flush' };

/** An optimistic action: its change, and whether the server accepts it. */
const action = fc.record({
	key: fc.constantFrom(...KEYS),
	change: fc.constantFrom('item', 'remove', 'function'),
	accepted: fc.boolean(),
	at: fc.nat(20),
	settleAfter: fc.integer({ min: 1, max: 10 }),
	messageAfter: fc.integer({ min: 1, max: 10 })
});
type Action = typeof action extends fc.Arbitrary<infer A> ? A : never;

/** Every event of a run, in order: an accepted action's effect is published after it began. */
function timeline(actions: Action[], others: Event[]): Event[] {
	const events: Event[] = [...others];
	actions.forEach((spec, n) => {
		events.push({ at: spec.at, kind: 'begin', action: n });
		events.push({ at: spec.at + spec.settleAfter, kind: 'settle', action: n });
		if (!spec.accepted) return;
		const item =
			spec.change == 'remove'
				? { key: spec.key, removed: true as const }
				: { key: spec.key, v: `server ${n}` };
		events.push({ at: spec.at + spec.messageAfter, kind: 'server', item });
	});
	// Stable: at one step, the order generated (a begin before its own settle and message).
	return events.sort((a, b) => a.at - b.at);
}

const others = fc.array(
	fc.oneof(
		fc.record({
			at: fc.nat(30),
			kind: fc.constant('server' as const),
			item: fc.oneof(
				fc.record({ key: fc.constantFrom(...KEYS), v: fc.string({ maxLength: 2 }) }),
				fc.record({ key: fc.constantFrom(...KEYS), removed: fc.constant(true as const) })
			)
		}),
		fc.record({ at: fc.nat(30), kind: fc.constantFrom('replace' as const, 'flush' as const) })
	),
	{ maxLength: 12 }
);

/** A FeedHost whose messages, removals and flushes the test sends. */
class Host implements FeedHost {
	upsert: (item: Item) => void = () => {};
	drop: (key: string) => void = () => {};
	#due = new Set<() => void>();

	follow<Data>(_definition: unknown, handler: (data: Data) => void): () => void {
		this.upsert = handler as (item: Item) => void;
		return () => (this.upsert = () => {});
	}
	onReset(): () => void {
		return () => {};
	}
	schedule(publish: () => void): void {
		this.#due.add(publish);
	}
	watchPresence(): () => void {
		return () => {};
	}
	removals = (drop: (key: string) => void) => {
		this.drop = drop;
		return () => (this.drop = () => {});
	};
	flush(): void {
		const due = [...this.#due];
		this.#due.clear();
		for (const publish of due) publish();
		flushSync();
	}
}

const stops: (() => void)[] = [];
afterEach(() => stops.splice(0).forEach((stop) => stop()));

describe('Collection.optimistic, as a model', () => {
	it('ends with what the server says, nothing pending, in any interleaving', async () => {
		await fc.assert(
			fc.asyncProperty(fc.array(action, { maxLength: 8 }), others, async (actions, rest) => {
				const host = new Host();
				const list = new Collection(host, Saved, {
					key: (item: Item) => item.key,
					removals: host.removals
				});
				stops.push(
					$effect.root(() => {
						$effect(() => void [list.values, list.pending]);
					})
				);
				flushSync();
				const truth = new Map<string, Item>();
				const settles = actions.map(() => deferred());
				for (const event of timeline(actions, rest)) {
					if (event.kind == 'begin') {
						const spec = actions[event.action];
						const change =
							spec.change == 'item'
								? { key: spec.key, v: `mine ${event.action}` }
								: spec.change == 'remove'
									? null
									: (item: Item | undefined) => ({
											key: spec.key,
											v: `${item?.v ?? ''}+${event.action}`
										});
						void list.optimistic(spec.key, change, settles[event.action].promise).catch(() => {});
					} else if (event.kind == 'settle') {
						const { promise, resolve, reject } = settles[event.action];
						if (actions[event.action].accepted) resolve();
						else reject(new Error('refused'));
						await promise.catch(() => {});
					} else if (event.kind == 'server') {
						const { item } = event;
						if ('removed' in item) {
							truth.delete(item.key);
							host.drop(item.key);
						} else {
							truth.set(item.key, item);
							host.upsert(item);
						}
					} else if (event.kind == 'replace') {
						list.replace(truth.values());
					} else {
						host.flush();
					}
				}
				host.flush();
				const byKey = (items: Iterable<Item>) =>
					[...items].sort((a, b) => a.key.localeCompare(b.key));
				expect(byKey(list.values)).toEqual(byKey(truth.values()));
				expect(list.pending.size).toBe(0);
			}),
			{ numRuns: RUNS }
		);
	});
});
