// Model-based test of the Backlog's conflation (src/lib/server/backlog.ts): fast-check runs random
// sequences of pushes (keyed and unkeyed, across rooms, names and keys, and bursts long enough to
// compact the queue), turn ends, a network that takes bytes and drains, other writes that fill the
// socket, read reports (some stale, some beyond what was written) with time passing between them,
// writeAll, clear and a socket that goes away, against a scripted transport. The reference says what
// must be sent, in order: everything, except that while the backlog is behind (a turn's end left
// something unwritten, and its queue has not emptied since) a keyed message is dropped when a newer
// one of the same room, name and key is queued. Every send is checked against it as it happens;
// bufferedBytes must be the reference's queued cost plus the transport's buffer, the metric its count
// of dropped messages; a drain or report writes at most one batch; a backlog behind with something
// queued waits for a drain or for a report the client owes (it cannot get stuck).
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ServerMetrics } from '../../../src/lib/server/metrics/metrics.js';
import { Backlog } from '../../../src/lib/server/backlog.js';
import { conflationIdOf } from '../../../src/lib/server/rooms/local-rooms.js';
import { PreparedMessage } from '../../../src/lib/server/transport/prepared-message.js';
import { ScriptedTransport, SOCKET_HIGH_WATER_MARK } from '../../kit/transport-stub.js';

const ROUTE = '/ws';
/** The backlog's batch per drain (backlog.ts DRAIN_BATCH_BYTES). */
const DRAIN_BATCH_BYTES = 64 * 1024;
/** Slots of a queue behind before it may be compacted (backlog.ts COMPACT_AFTER)
. */
const COMPACT_AFTER = 1_024;
/** The smallest read window (backlog.ts MIN_READ_WINDOW): a client owes a report past it. */
const MIN_READ_WINDOW = 512;
/** The clock the backlog measures read rates with (performance.now), moved by the commands. */
let now = 0;

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
const reached = { fellBehind: 0, superseded: 0, partialDrains: 0, longBehind: 0, heldByWindow: 0 };

type Doing = 'push' | 'flush' | 'drain' | 'report' | 'writeAll' | 'clear' | 'write';

/** The real backlog on its scripted transport, and the reference beside it. */
class World {
	readonly transport: ScriptedTransport;
	readonly metrics = new ServerMetrics();
	readonly backlog: Backlog;
	/** What must still be sent, in order. */
	queue: Queued[] = [];
	behind = false;
	conflated = 0;
	seq = 0;
	doing: Doing = 'push';
	/** Frames written, and the most the client reported it read (undefined before any report). */
	written = 0;
	read: number | undefined;
	/** Bytes sent by the drain or report being run. */
	drainBytes = 0;
	largestFrame = 0;
	/** Pushes since the backlog last fell behind, while it stays behind. */
	pushesBehind = 0;
	log: string[] = [];

	/** A socket that buffers `highWaterMark` bytes before it pushes back. */
	constructor(highWaterMark: number) {
		this.transport = new ScriptedTransport(highWaterMark);
		this.backlog = new Backlog(this.transport, this.metrics, ROUTE);
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
		this.written++;
		if (this.doing == 'drain' || this.doing == 'report') {
			if (!this.behind) throw new Error(`a ${this.doing} write while flowing`);
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
		this.backlog.push(message);
	}

	#supersede(id: string): void {
		const before = this.queue.length;
		this.queue = this.queue.filter((queued) => queued.id !== id);
		this.conflated += before - this.queue.length;
		if (before > this.queue.length) reached.superseded++;
	}

	/**
	 * The turn ends: the scheduled flush. What it leaves unwritten (the transport pushes back, or the
	 * client's read window is full) the backlog keeps behind, conflated.
	 */
	flush(): void {
		const due = this.queue.length > 0 && !this.behind;
		if (due && !this.transport.writable) this.queue = [];
		this.doing = 'flush';
		this.backlog.flush();
		if (!due || !this.queue.length) return;
		if (!this.transport.backpressured) reached.heldByWindow++;
		this.#fallBehind();
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
		// A socket that is gone never drains.
		this.#resuming(() => this.transport.take(bytes), false);
	}

	/** The client reports it read `count` frames (a whole number: the session refuses anything else). */
	report(count: number): void {
		this.doing = 'report';
		const read = Math.min(count, this.written);
		const advanced = this.read === undefined || read > this.read;
		if (advanced) this.read = read;
		this.#resuming(() => this.backlog.reportRead(count), advanced);
	}

	/** Runs what may resume a backlog behind: on a socket's buffer, it writes at most one batch. */
	#resuming(act: () => void, resumes: boolean): void {
		// A backlog behind on a socket that is gone forgets its queue when a report resumes it.
		if (resumes && this.behind && !this.transport.writable) this.queue = [];
		this.drainBytes = 0;
		act();
		holds(
			// A batch fills a socket's buffer (16 KiB): the next one waits for its drain.
			this.drainBytes <= DRAIN_BATCH_BYTES + this.largestFrame ||
				this.transport.highWaterMark > DRAIN_BATCH_BYTES,
			() => `one ${this.doing} wrote ${this.drainBytes} bytes`
		);
		if (!this.queue.length) this.behind = false;
		else if (this.drainBytes) reached.partialDrains++;
	}

	writeAll(): void {
		if (!this.transport.writable) this.queue = [];
		this.doing = 'writeAll';
		this.backlog.writeAll();
		holds(!this.queue.length, () => 'left after writeAll');
		this.behind = false;
	}

	clear(): void {
		this.queue = [];
		this.behind = false;
		this.doing = 'clear';
		this.backlog.clear();
	}

	/** Another frame (a ping) written to the socket directly. */
	write(bytes: number): void {
		this.doing = 'write';
		this.transport.write(bytes);
	}

	/** Every invariant, after every command (plain comparisons: they run tens of thousands of times). */
	check(): void {
		const queuedCost = this.queue.reduce((sum, queued) => sum + queued.message.queuedCost, 0);
		const { backlog, transport } = this;
		holds(
			backlog.bufferedBytes == queuedCost + transport.bufferedAmount,
			() =>
				`bufferedBytes ${backlog.bufferedBytes}, queued ${queuedCost} + transport ${transport.bufferedAmount}`
		);
		const conflated = this.metrics.conflatedMessages.get(ROUTE) ?? 0;
		holds(conflated == this.conflated, () => `conflated ${conflated}, not ${this.conflated}`);
		holds(!transport.corked, () => 'left corked');
		holds(transport.drainListeners <= 1, () => `${transport.drainListeners} drain listeners`);
		// Behind with something queued, it cannot get stuck: the client owes a report (it has at least
		// MIN_READ_WINDOW frames unread, and reports every 256 it reads), or a drain is awaited.
		if (this.behind && this.queue.length && transport.writable) {
			const unread = this.written - (this.read ?? this.written);
			const owed = this.read !== undefined && unread >= MIN_READ_WINDOW;
			holds(
				owed || (transport.backpressured && transport.drainListeners == 1),
				() => `stuck behind: ${unread} unread, backpressured ${transport.backpressured}`
			);
		}
	}

	/** The network takes everything until nothing is left to send: every message due was sent. */
	settle(): void {
		for (let round = 0; round < 10_000 && this.transport.writable; round++) {
			this.flush();
			const sent = this.transport.sent.length;
			this.take(Infinity);
			now += 100;
			this.report(this.written);
			this.check();
			if (!this.queue.length && this.transport.sent.length == sent) break;
		}
		if (this.transport.writable) {
			expect(
				this.queue.map((queued) => queued.seq),
				'never sent'
			).toEqual([]);
		}
		this.backlog.clear();
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
	fc
		.oneof(fc.integer({ min: -50, max: 1_000 }), fc.constant(1e9))
		.map((ahead) =>
			command(`client read ${ahead} past its last report`, (w) =>
				w.report(Math.max(0, (w.read ?? 0) + ahead))
			)
		),
	fc.integer({ min: 1, max: 2_000 }).map((ms) =>
		command(`${ms} ms pass`, () => {
			now += ms;
		})
	),
	fc.constant(command('writeAll', (w) => w.writeAll())),
	fc.constant(command('clear', (w) => w.clear())),
	fc.constant(command('socket gone', (w) => w.transport.destroy()))
];

const weights = [40, 8, 25, 5, 10, 5, 8, 4, 2, 2, 1];
const weighted = fc.oneof(
	...commands.map((arbitrary, index) => ({ arbitrary, weight: weights[index] }))
);

/** `SOAK=1` runs the long form. */
const soak = process.env.SOAK == '1';

const worlds: World[] = [];
beforeEach(() => {
	now = 0;
	vi.spyOn(performance, 'now').mockImplementation(() => now);
});

afterEach(() => {
	vi.restoreAllMocks();
	for (const world of worlds.splice(0)) world.backlog.clear();
});

describe('Backlog conflation against a reference', () => {
	// The long form takes about a minute: it has its own timeout.
	it(
		'sends what the reference says, in order, with honest accounting',
		{ timeout: soak ? 600_000 : undefined },
		() => {
			fc.assert(
				fc.property(
					// A socket's own high-water mark, and one that takes a megabyte (the read window decides)
					fc.constantFrom(SOCKET_HIGH_WATER_MARK, 1024 * 1024),
					fc.commands([weighted], { maxCommands: soak ? 120 : 30, size: 'max' }),
					(highWaterMark, sequence) => {
						const world = new World(highWaterMark);
						worlds.push(world);
						fc.modelRun(() => ({ model: {}, real: world }), sequence);
						world.settle();
					}
				),
				{ numRuns: soak ? 2_000 : 200 }
			);
			console.info(`[backlog model] paths reached: ${JSON.stringify(reached)}`);
			expect(reached.partialDrains).toBeGreaterThan(0);
			expect(reached.heldByWindow).toBeGreaterThan(0);
			expect(reached.longBehind).toBeGreaterThan(0);
		}
	);
});
