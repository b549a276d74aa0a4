import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { envelopeDialect, JOINED_MESSAGE } from '../../../../src/lib/protocol/envelope.js';
import {
	conflated,
	conflationIdOf,
	LocalRooms,
	type RoomMember
} from '../../../../src/lib/server/rooms/local-rooms.js';
import type { PreparedMessage } from '../../../../src/lib/server/transport/prepared-message.js';
import { StubEngine } from '../../../kit/engine-stub.js';
import type { HistoryReadOptions, HistoryResult } from '../../../../src/lib/engine/engine.js';
import type { StreamPosition } from '../../../../src/lib/index.js';

const ROOM = 'project:1';
const EPOCH = 'epoch-1';

/**
 * A spinning caller would never let the test go on: past this many history reads the stub stops
 * answering, so the loop ends and the test can fail on the count instead of hanging.
 */
const SPIN_GUARD = 1_000;

/** A room message numbered `n` at offset `n` of `EPOCH`. */
function numbered(n: number, epoch = EPOCH): Record<string, unknown> {
	return { name: 'seq', data: { n }, timestamp: 0, offset: n, epoch };
}

/**
 * An engine whose history can fail at once (as `RedisEngine.history` does while its command
 * connection is down), answer from what it stored, or answer from a stale copy that stops short
 * of what the feed already delivered. The Engine interface is the app's extension point, so a stub
 * is a legitimate engine here.
 */
class HistoryStub extends StubEngine {
	mode: 'failing' | 'answering' | 'behind' = 'failing';
	/** Every message "published" so far, by offset. */
	readonly stored: Record<string, unknown>[] = [];
	/** The fake clock's time of every history read. */
	readonly reads: number[] = [];
	/** The options of every history read. */
	readonly readOptions: (HistoryReadOptions | undefined)[] = [];

	store(...numbers: number[]): void {
		for (const n of numbers) this.stored[n] = numbered(n);
	}

	override history(
		_room: string,
		since?: StreamPosition,
		options?: HistoryReadOptions
	): Promise<HistoryResult> {
		this.reads.push(Date.now());
		this.readOptions.push(options);
		if (this.reads.length > SPIN_GUARD) return new Promise(() => {});
		if (this.mode == 'failing') {
			return Promise.reject(new Error('Redis is unavailable (connection reconnecting)'));
		}
		const from = since?.offset ?? 0;
		const known = this.stored.filter((message) => message !== undefined);
		const visible = this.mode == 'behind' ? known.slice(0, from) : known;
		const messages = visible.filter((message) => (message.offset as number) > from);
		const offset = (visible.at(-1)?.offset as number | undefined) ?? from;
		return Promise.resolve({ recovered: true, position: { offset, epoch: EPOCH }, messages });
	}
}

/** What one member was sent, in order: room messages by number, and resets. */
type Received = { n: number } | { joined: Record<string, unknown> };

interface StubMember extends RoomMember {
	readonly log: Received[];
	/** The numbers of the room messages it got, in order. */
	readonly numbers: number[];
	/** The `room.joined` answers it got, in order. */
	readonly resets: Record<string, unknown>[];
}

function member(id: string): StubMember {
	const log: Received[] = [];
	const rooms = new Set<string>();
	const record = (prepared: PreparedMessage) => {
		const message = envelopeDialect.decode(prepared.payload.toString()) as { data: { n: number } };
		log.push({ n: message.data.n });
	};
	return {
		id,
		authenticated: true,
		joinedRooms: rooms,
		log,
		get numbers() {
			return log.flatMap((entry) => ('n' in entry ? [entry.n] : []));
		},
		get resets() {
			return log.flatMap((entry) => ('joined' in entry ? [entry.joined] : []));
		},
		deliverToRoom: (_room: string, prepared: PreparedMessage) => record(prepared),
		sendPrepared: (prepared: PreparedMessage) => {
			record(prepared);
			return true;
		},
		sendReserved: (name: string, data: unknown) => {
			if (name == JOINED_MESSAGE) log.push({ joined: data as Record<string, unknown> });
			return true;
		},
		conflated: () => {},
		startReplay: () => {},
		endReplay: () => {},
		leaveRoom: (room: string) => void rooms.delete(room)
	};
}

/** Lets every pending promise callback run (no timer fires: time is fake). */
async function settle(): Promise<void> {
	for (let turn = 0; turn < 50; turn++) await Promise.resolve();
}

let engine: HistoryStub;
let errors: unknown[];
let rooms: LocalRooms;

/** A room with one member that has received messages 1 and 2 of `EPOCH`. */
async function roomAtTwo(): Promise<StubMember> {
	const alice = member('alice');
	rooms.add(alice, ROOM);
	engine.store(1, 2);
	rooms.deliver(ROOM, numbered(1));
	rooms.deliver(ROOM, numbered(2));
	await settle();
	expect(alice.numbers).toEqual([1, 2]);
	return alice;
}

beforeEach(() => {
	vi.useFakeTimers();
	engine = new HistoryStub();
	errors = [];
	rooms = new LocalRooms(engine, Promise.resolve(), (error) => errors.push(error));
});

afterEach(() => {
	vi.useRealTimers();
});

describe('LocalRooms gap fill when history cannot be read', () => {
	it('reads history once per attempt: a failure waits for a timer, it never loops in microtasks', async () => {
		const alice = await roomAtTwo();
		engine.store(3, 4);
		rooms.deliver(ROOM, numbered(4)); // 3 was lost on the way: a gap
		await settle();
		expect(engine.reads).toHaveLength(1);
		expect(alice.numbers).toEqual([1, 2]);
		// Later deliveries wait behind the gap, in order, and do not read history again.
		engine.store(5, 6);
		rooms.deliver(ROOM, numbered(5));
		rooms.deliver(ROOM, numbered(6));
		await settle();
		expect(engine.reads).toHaveLength(1);
		expect(alice.numbers).toEqual([1, 2]);
		expect(errors).toHaveLength(1);
	});

	it('retries on a timer with growing delays, a bounded number of times', async () => {
		await roomAtTwo();
		engine.store(3);
		rooms.deliver(ROOM, numbered(4));
		await settle();
		await vi.advanceTimersByTimeAsync(99);
		expect(engine.reads).toHaveLength(1);
		await vi.advanceTimersByTimeAsync(1);
		expect(engine.reads).toHaveLength(2);
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		const attempts = engine.reads.length;
		expect(attempts).toBeGreaterThanOrEqual(5);
		expect(attempts).toBeLessThanOrEqual(12);
		const waits = engine.reads.slice(1).map((at, index) => at - engine.reads[index]);
		expect(waits[0]).toBe(100);
		// Growing: never shorter than the wait before (a cap may flatten the last ones), and longer
		// from the second on, so a constant delay fails.
		expect(waits[1]).toBeGreaterThan(waits[0]);
		for (let index = 1; index < waits.length; index++) {
			expect(waits[index]).toBeGreaterThanOrEqual(waits[index - 1]);
		}
		// Together long enough for an ioredis command connection to come back (its delay reaches 5 s).
		expect(engine.reads.at(-1)! - engine.reads[0]).toBeGreaterThanOrEqual(5_000);
		// And then it stops: no timer left behind, no read later.
		expect(vi.getTimerCount()).toBe(0);
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		expect(engine.reads).toHaveLength(attempts);
	});

	it('resets the room after the last attempt: members learn it is unrecoverable, then get what waited', async () => {
		const alice = await roomAtTwo();
		const bob = member('bob');
		rooms.add(bob, ROOM);
		rooms.deliver(ROOM, numbered(4));
		rooms.deliver(ROOM, numbered(5));
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		for (const someone of [alice, bob]) {
			expect(someone.resets).toEqual([{ room: ROOM, offset: 3, epoch: EPOCH, recovered: false }]);
		}
		// The reset comes before the messages that waited; 3 is the one reported as unrecoverable.
		expect(alice.log.slice(2)).toEqual([
			{ joined: { room: ROOM, offset: 3, epoch: EPOCH, recovered: false } },
			{ n: 4 },
			{ n: 5 }
		]);
		expect(bob.numbers).toEqual([4, 5]);
		// Live delivery goes on from there.
		rooms.deliver(ROOM, numbered(6));
		await settle();
		expect(alice.numbers).toEqual([1, 2, 4, 5, 6]);
	});

	it('fills the gap when history becomes readable before the attempts run out: nothing lost', async () => {
		const alice = await roomAtTwo();
		engine.store(3, 4, 5);
		rooms.deliver(ROOM, numbered(4));
		await settle();
		await vi.advanceTimersByTimeAsync(100 + 200);
		expect(engine.reads).toHaveLength(3);
		rooms.deliver(ROOM, numbered(5));
		engine.mode = 'answering';
		await vi.advanceTimersByTimeAsync(400);
		expect(alice.numbers).toEqual([1, 2, 3, 4, 5]);
		expect(alice.resets).toEqual([]);
		expect(vi.getTimerCount()).toBe(0);
		// A gap is filled from this process's own position: the engine may renew a room behind it.
		expect(engine.readOptions.at(-1)).toEqual({ delivered: true });
	});

	it('a history that answers but stops short of the gap is retried on the timer too', async () => {
		const alice = await roomAtTwo();
		engine.store(3, 4);
		engine.mode = 'behind';
		rooms.deliver(ROOM, numbered(4));
		await settle();
		expect(engine.reads).toHaveLength(1);
		engine.mode = 'answering';
		await vi.advanceTimersByTimeAsync(100);
		expect(alice.numbers).toEqual([1, 2, 3, 4]);
		expect(alice.resets).toEqual([]);
	});

	it('bounds what waits: past the limit the room is reset at once instead of queueing more', async () => {
		const alice = await roomAtTwo();
		const count = 20_000;
		for (let n = 4; n < 4 + count; n++) rooms.deliver(ROOM, numbered(n));
		await settle();
		// No timer had to fire: the queue overflowed, so the room was reset and the queue delivered.
		expect(alice.resets).toEqual([{ room: ROOM, offset: 3, epoch: EPOCH, recovered: false }]);
		expect(alice.numbers.length).toBe(2 + count);
		expect(alice.numbers.at(-1)).toBe(3 + count);
		expect(engine.reads.length).toBeLessThanOrEqual(2);
	});

	it('bounds what waits by size too: a few large messages reset the room as a thousand small ones would', async () => {
		const alice = await roomAtTwo();
		const large = (n: number) => ({ ...numbered(n), data: { n, blob: 'x'.repeat(512 * 1024) } });
		const count = 20; // 10 MiB in all: far below the count bound, above any sane size bound
		for (let n = 4; n < 4 + count; n++) rooms.deliver(ROOM, large(n));
		await settle();
		expect(alice.resets).toEqual([{ room: ROOM, offset: 3, epoch: EPOCH, recovered: false }]);
		expect(alice.numbers.length).toBe(2 + count);
		expect(engine.reads.length).toBeLessThanOrEqual(2);
	});

	it('a resync that cannot read history retries on the timer, and live messages queue behind it', async () => {
		const alice = await roomAtTwo();
		rooms.resync();
		await settle();
		expect(engine.reads).toHaveLength(1);
		engine.store(3, 4);
		rooms.deliver(ROOM, numbered(4));
		await settle();
		expect(engine.reads).toHaveLength(1);
		engine.mode = 'answering';
		await vi.advanceTimersByTimeAsync(100);
		expect(alice.numbers).toEqual([1, 2, 3, 4]);
		expect(alice.resets).toEqual([]);
	});

	it('a resync whose history never comes back resets the room to "accept what comes next"', async () => {
		const alice = await roomAtTwo();
		rooms.resync();
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		// Nothing waited, so no position is known: offset 0 and no epoch, as after a failed join.
		expect(alice.resets).toEqual([{ room: ROOM, offset: 0, epoch: '', recovered: false }]);
		rooms.deliver(ROOM, numbered(9));
		await settle();
		expect(alice.numbers).toEqual([1, 2, 9]);
	});

	it('the last member leaving stops the retries', async () => {
		const alice = await roomAtTwo();
		rooms.deliver(ROOM, numbered(4));
		await settle();
		rooms.remove(alice, ROOM);
		await vi.advanceTimersByTimeAsync(10 * 60_000);
		expect(engine.reads).toHaveLength(1);
		expect(vi.getTimerCount()).toBe(0);
		expect(alice.resets).toEqual([]);
	});
});

describe('conflated replays', () => {
	const keyed = (offset: number, key: string, name = 'state') => ({
		name,
		data: { offset },
		offset,
		epoch: EPOCH,
		conflationKey: key
	});

	it('keeps every message without a key and the newest per name and key, in stream order', () => {
		const messages = [
			keyed(1, 'a'),
			numbered(2),
			keyed(3, 'b'),
			keyed(4, 'a'),
			keyed(5, 'a', 'other'),
			numbered(6),
			keyed(7, 'b')
		];
		const offsets = conflated(ROOM, messages).map((message) => message.offset);
		expect(offsets).toEqual([2, 4, 5, 6, 7]);
	});

	it('always keeps the last message, so a replay still ends where history does', () => {
		const messages = [keyed(1, 'a'), keyed(2, 'a'), keyed(3, 'a')];
		expect(conflated(ROOM, messages).map((message) => message.offset)).toEqual([3]);
	});

	it('gives a message a conflation id only with a string key and an offset', () => {
		expect(conflationIdOf(ROOM, keyed(1, 'a'))).toBe(JSON.stringify([ROOM, 'state', 'a']));
		expect(conflationIdOf(ROOM, { ...keyed(1, 'a'), offset: undefined })).toBeUndefined();
		expect(conflationIdOf(ROOM, { ...keyed(1, 'a'), conflationKey: 7 })).toBeUndefined();
		expect(conflationIdOf(ROOM, numbered(1))).toBeUndefined();
		// The parts cannot run into each other: a room and a name that share their joint are told apart.
		expect(conflationIdOf('a"b', { ...keyed(1, 'k'), name: 'c' })).not.toBe(
			conflationIdOf('a', { ...keyed(1, 'k'), name: 'b"c' })
		);
	});
});
