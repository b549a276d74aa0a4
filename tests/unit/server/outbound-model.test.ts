// Model-based test of the Outbox's conflation (src/lib/server/outbound.ts): fast-check runs random
// sequences of pushes (keyed and unkeyed, across rooms, names and keys, and bursts long enough to
// compact the queue), turn ends, a network that takes bytes and drains, other writes that fill the
// socket, writeAll, clear and a socket that goes away, against a scripted transport. The reference
// says what must be sent, in order: everything, except that while the outbox is behind (it found the
// transport backpressured at a turn's end, and has not emptied its queue since) a keyed message is
// dropped when a newer one of the same room, name and key is queued. Every send is checked against
// it as it happens; bufferedBytes must be the reference's queued cost plus the transport's buffer,
// the metric its count of dropped messages; a drain writes at most one batch; an outbox behind with
// something queued always waits for a drain (it cannot get stuck).
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ServerMetrics } from '../../../src/lib/server/metrics/metrics.js';
import { Outbox } from '../../../src/lib/server/outbound.js';
import { conflationIdOf } from '../../../src/lib/server/rooms/local-rooms.js';
import { PreparedMessage } from '../../../src/lib/server/transport/prepared-message.js';
import { ScriptedTransport } from '../../kit/transport-stub.js';

const ROUTE = '/ws';
/** The outbox's batch per drain (outbound.ts DRAIN_BATCH_BYTES). */
const DRAIN_BATCH_BYTES = 64 * 1024;
/** Slots of a queue behind before it may be compacted (outbound.ts COMPACT_AFTER). */
const COMPACT_AFTER = 1_024;

function holds(condition: boolean, what: () => string): void {
	if (!condition) throw new Error(what());
}

/** One push as the reference keeps it. */
interface Queued {
	readonly seq: number;
	readonly id: string | undefined;
	readonly message: PreparedMessage;
}

/** How often the runs reached the paths that matter, so a generator that drifts cannot hide them. */
const reached = { fellBehind: 0, superseded: 0, partialDrains: 0, longBehind: 0 };

type Doing = 'push' | 'flush' | 'drain' | 'writeAll' | 'clear' | 'write';

/** The real outbox on its scripted transport, and the reference beside it. */
class World {
	readonly transport = new ScriptedTransport();
	readonly metrics = new ServerMetrics();
	readonly outbox = new Outbox(this.transport, this.metrics, ROUTE);
	/** What must still be sent, in order. */
	queue: Queued[] = [];
	behind = false;
	conflated = 0;
	seq = 0;
	doing: Doing = 'push';
	/** Bytes sent by the drain being run. */
	drainBytes = 0;
	largestFrame = 0;
	/** Pushes since the outbox last fell behind, while it stays behind. */
	pushesBehind = 0;
	log: string[] = [];

	constructor() {
		this.transport.onSend = (message) => this.#sent(message);
	}

	/** Checks each send as it happens (plain comparisons: it runs for every message of every run). */
	#sent(message: PreparedMessage): void {
		const expected = this.queue.shift();
		if (message !== expected?.message) {
			const seq = (JSON.parse(message.payload.toString()) as [string, { seq: number }])[1].seq;
			throw new Error(`sent #${seq} while ${this.doing}; due: #${expected?.seq ?? 'nothing'}`);
		}
		if (this.doing == 'flush' && this.behind) throw new Error('a turn-end write while behind');
		if (this.doing == 'drain') {
			if (!this.behind) throw new Error('a drain write while flowing');
			this.drainBytes += message.frameLength;
		} else if (this.doing != 'flush' && this.doing != 'writeAll') {
			throw new Error(`sent while ${this.doing}`);
		}
	}

	push(room: string, name: string, key: string | undefined, pad: number): void {
		const seq = this.seq++;
		const envelope = { name, data: { seq, pad: 'x'.repeat(pad) }, offset: seq, conflationKey: key };
		const id = conflationIdOf(room, envelope);
		const message = new PreparedMessage(
			JSON.stringify([name, envelope.data, room, seq, 'e', key]),
			id
		);
		this.largestFrame = Math.max(this.largestFrame, message.frameLength);
		if (this.behind && ++this.pushesBehind == COMPACT_AFTER) reached.longBehind++;
		if (this.behind && id !== undefined) this.#supersede(id);
		this.queue.push({ seq, id, message });
		this.doing = 'push';
		this.outbox.push(message);
	}

	#supersede(id: string): void {
		const before = this.queue.length;
		this.queue = this.queue.filter((queued) => queued.id !== id);
		this.conflated += before - this.queue.length;
		if (before > this.queue.length) reached.superseded++;
	}

	/** The turn ends: the scheduled flush. */
	flush(): void {
		const due = this.queue.length > 0 && !this.behind;
		if (due && !this.transport.writable) this.queue = [];
		else if (due && this.transport.backpressured) this.#fallBehind();
		this.doing = 'flush';
		this.outbox.flush();
		if (due)
			expect(this.queue, 'left after a turn-end write').toEqual(this.behind ? this.queue : []);
	}

	#fallBehind(): void {
		this.behind = true;
		this.pushesBehind = 0;
		reached.fellBehind++;
		const newest = new Map<string, number>();
		for (const queued of this.queue) if (queued.id !== undefined) newest.set(queued.id, queued.seq);
		const before = this.queue.length;
		this.queue = this.queue.filter(
			(queued) => queued.id === undefined || newest.get(queued.id) == queued.seq
		);
		this.conflated += before - this.queue.length;
	}

	/** The network takes `bytes`; a drain, if it comes, writes at most one batch. */
	take(bytes: number): void {
		this.doing = 'drain';
		this.drainBytes = 0;
		this.transport.take(bytes);
		holds(
			this.drainBytes <= DRAIN_BATCH_BYTES + this.largestFrame,
			() => `one drain wrote ${this.drainBytes} bytes`
		);
		if (!this.queue.length) this.behind = false;
		else if (this.drainBytes) reached.partialDrains++;
	}

	writeAll(): void {
		if (!this.transport.writable) this.queue = [];
		this.doing = 'writeAll';
		this.outbox.writeAll();
		holds(!this.queue.length, () => 'left after writeAll');
		this.behind = false;
	}

	clear(): void {
		this.queue = [];
		this.behind = false;
		this.doing = 'clear';
		this.outbox.clear();
	}

	/** Another frame (a ping) written to the socket directly. */
	write(bytes: number): void {
		this.doing = 'write';
		this.transport.write(bytes);
	}

	/** Every invariant, after every command (plain comparisons: they run tens of thousands of times). */
	check(): void {
		const queuedCost = this.queue.reduce((sum, queued) => sum + queued.message.queuedCost, 0);
		const { outbox, transport } = this;
		holds(
			outbox.bufferedBytes == queuedCost + transport.bufferedAmount,
			() =>
				`bufferedBytes ${outbox.bufferedBytes}, queued ${queuedCost} + transport ${transport.bufferedAmount}`
		);
		const conflated = this.metrics.conflatedMessages.get(ROUTE) ?? 0;
		holds(conflated == this.conflated, () => `conflated ${conflated}, not ${this.conflated}`);
		holds(!transport.corked, () => 'left corked');
		holds(transport.drainListeners <= 1, () => `${transport.drainListeners} drain listeners`);
		if (this.behind && this.queue.length && transport.writable) {
			holds(transport.backpressured, () => 'behind, not backpressured, and not writing');
			holds(transport.drainListeners == 1, () => 'behind without waiting for a drain');
		}
	}

	/** The network takes everything until nothing is left to send: every message due was sent. */
	settle(): void {
		for (let round = 0; round < 10_000 && this.transport.writable; round++) {
			this.flush();
			const sent = this.transport.sent.length;
			this.take(Infinity);
			this.check();
			if (!this.queue.length && this.transport.sent.length == sent) break;
		}
		if (this.transport.writable)
			expect(
				this.queue.map((queued) => queued.seq),
				'never sent'
			).toEqual([]);
		this.outbox.clear();
	}
}

type Command = fc.Command<object, World>;

const room = fc.constantFrom('a', 'b');
const name = fc.constantFrom('s', 't');
const key = fc.option(fc.constantFrom('0', '1', '2', '3'), { freq: 3, nil: undefined });

/** A command: `run` acts on the world and the reference, then every invariant is checked. */
function command(describe: string, act: (world: World) => void): Command {
	return {
		check: () => true,
		run: (_model, world) => {
			world.log.push(describe);
			act(world);
			world.check();
		},
		toString: () => describe
	};
}

const commands = [
	fc
		.tuple(
			room,
			name,
			key,
			fc.oneof(fc.nat({ max: 3_000 }), fc.integer({ min: 8_000, max: 20_000 }))
		)
		.map(([r, n, k, pad]) =>
			command(`push ${r} ${n} ${k ?? '-'} ${pad}`, (w) => w.push(r, n, k, pad))
		),
	// Long enough, with few keys, that a queue behind passes the compaction threshold (1,024 slots).
	fc
		.tuple(
			fc.integer({ min: 100, max: 1_200 }),
			fc.integer({ min: 1, max: 6 }),
			fc.nat({ max: 200 }),
			fc.nat({ max: 9 })
		)
		.map(([count, keys, pad, unkeyedEvery]) =>
			command(`burst ${count} over ${keys} keys, pad ${pad}, unkeyed 1/${unkeyedEvery}`, (w) => {
				for (let index = 0; index < count; index++) {
					const unkeyed = unkeyedEvery > 0 && index % unkeyedEvery == 0;
					w.push(index % 2 ? 'a' : 'b', 's', unkeyed ? undefined : String(index % keys), pad);
				}
			})
		),
	fc.constant(command('turn ends', (w) => w.flush())),
	fc.constant(command('turn ends', (w) => w.flush())),
	fc
		.oneof(
			fc.integer({ min: 1, max: 50_000 }),
			fc.integer({ min: 1, max: 50_000 }),
			fc.constant(Infinity)
		)
		.map((bytes) => command(`network takes ${bytes}`, (w) => w.take(bytes))),
	fc
		.integer({ min: 2, max: 40_000 })
		.map((bytes) => command(`ping of ${bytes}`, (w) => w.write(bytes))),
	fc.constant(command('writeAll', (w) => w.writeAll())),
	fc.constant(command('clear', (w) => w.clear())),
	fc.constant(command('socket gone', (w) => w.transport.destroy()))
];

const weighted = fc.oneof(
	{ arbitrary: commands[0], weight: 40 },
	{ arbitrary: commands[1], weight: 8 },
	{ arbitrary: commands[2], weight: 25 },
	{ arbitrary: commands[3], weight: 5 },
	{ arbitrary: commands[4], weight: 10 },
	{ arbitrary: commands[5], weight: 5 },
	{ arbitrary: commands[6], weight: 2 },
	{ arbitrary: commands[7], weight: 2 },
	{ arbitrary: commands[8], weight: 1 }
);

/** `SOAK=1` runs the long form. */
const soak = process.env.SOAK == '1';

const worlds: World[] = [];
afterEach(() => {
	for (const world of worlds.splice(0)) world.outbox.clear();
});

describe('Outbox conflation against a reference', () => {
	it('sends what the reference says, in order, with honest accounting', () => {
		fc.assert(
			fc.property(
				fc.commands([weighted], { maxCommands: soak ? 120 : 30, size: 'max' }),
				(sequence) => {
					const world = new World();
					worlds.push(world);
					fc.modelRun(() => ({ model: {}, real: world }), sequence);
					world.settle();
				}
			),
			{ numRuns: soak ? 5_000 : 200 }
		);
		console.info(`[outbox model] paths reached: ${JSON.stringify(reached)}`);
		expect(reached.partialDrains).toBeGreaterThan(0);
	});
});
