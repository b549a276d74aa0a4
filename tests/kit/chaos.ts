import { Redis } from 'ioredis';
import { afterEach, expect } from 'vitest';
import {
	ClientMessage,
	Connected,
	Unrecoverable,
	type InboundMessage,
	type SocketClient
} from '../../src/lib/index.js';
import { RedisEngine } from '../../src/lib/redis/index.js';
import type { StreamPosition } from '../../src/lib/index.js';
import type { RedisServer } from './servers/redis-server.js';
import type { ServerProcess } from './servers/chaos-server-process.js';
import { within } from './wait.js';

/** The chaos stream's messages: `{ n }` numbered from 1. */
export const Seq = ClientMessage.define<{ n: number }>('seq');
/** Published after a stream stopped: once it arrived, everything published before it did too. */
export const Fence = ClientMessage.define<{ at: number }>('fence');
/** The room the chaos stream goes to. */
export const CHAOS_ROOM = 'chaos';

/**
 * Wakes whoever waits on a condition whenever something changed (a message arrived, a publish
 * went through), so tests wait for state, never for time.
 */
export class Signal {
	#waiters = new Set<() => void>();

	/** Something changed: every waiter checks its condition again. */
	changed(): void {
		for (const waiter of [...this.#waiters]) waiter();
	}

	/** Resolves once `condition` holds (checked now and after every change). */
	until(condition: () => boolean, what: string, ms = 20_000): Promise<void> {
		let check: () => void = () => {};
		return within(
			new Promise<void>((resolve) => {
				check = () => {
					if (!condition()) return;
					this.#waiters.delete(check);
					resolve();
				};
				this.#waiters.add(check);
				check();
			}),
			what,
			ms
		).finally(() => this.#waiters.delete(check));
	}
}

const publishers = new Set<Publisher<unknown>>();
const engines: RedisEngine[] = [];
const admins: Redis[] = [];

// A test that failed half-way must not leave its stream running into the next one.
afterEach(async () => {
	await Promise.all([...publishers].map((publisher) => publisher.stop()));
	await Promise.all(engines.splice(0).map((engine) => engine.close()));
	await Promise.all(admins.splice(0).map((admin) => admin.quit().catch(() => admin.disconnect())));
});

/** A plain connection to `redis` for commands a test needs (e.g. CLIENT KILL), closed after the test. */
export function redisAdmin(redis: RedisServer): Redis {
	const client = new Redis(redis.url);
	client.on('error', () => {});
	admins.push(client);
	return client;
}

/**
 * The test's own engine on `redis`, publishing as another node of the app would; closed after the
 * test. Its Redis errors are expected (Redis gets killed), not logged.
 */
export async function publisherEngine(redis: RedisServer): Promise<RedisEngine> {
	const engine = new RedisEngine({
		redis: redis.url,
		history: { size: 10_000 },
		onError: () => {}
	});
	engines.push(engine);
	await engine.start({ deliver: () => {} });
	return engine;
}

/** Publishes `Seq` `{ n }` to the chaos room through `engine`: the publish function of a `Publisher`. */
export function seqThrough(
	engine: RedisEngine,
	room = CHAOS_ROOM
): (n: number) => Promise<StreamPosition | undefined> {
	return (n) => engine.publish(room, { name: Seq.name, data: { n }, timestamp: Date.now() });
}

/** Publishes the fence `at` to `room` through `engine`. */
export function publishFence(
	engine: RedisEngine,
	at: number,
	room = CHAOS_ROOM
): Promise<StreamPosition | undefined> {
	return engine.publish(room, { name: Fence.name, data: { at }, timestamp: Date.now() });
}

/** Asserts a server process is still up and never died on its own, with its log as the message. */
export function expectAlive(server: ServerProcess): void {
	expect(server.crashes, server.log).toEqual([]);
	expect(server.running, server.log).toBe(true);
}

/** Asserts the server process answers `GET /stats` within 2 s: a process that does not is hung. */
export async function expectAnswering(server: ServerProcess, when: string): Promise<void> {
	const answered = await server.stats().then(
		() => true,
		() => false
	);
	expect(answered, `the server answers within 2 s ${when}\n${server.log.slice(-2_000)}`).toBe(true);
}

/** What one publish of the sequence did. */
export interface Publication<Position> {
	readonly n: number;
	/** What the publish resolved with (e.g. the message's stream position). */
	readonly result: Position;
}

/**
 * Publishes `{ n }` for n = `from`, `from` + 1 … (default 1, 2, 3 …), one after the other, every
 * `intervalMs`: `sent` holds those whose publish resolved, `failed` those whose publish rejected
 * (e.g. Redis was down). Stopped after the test at the latest.
 *
 * @example
 * ```ts
 * const publisher = new Publisher((n) => server.publish(Seq, { n }, { room: 'chaos' }), 2);
 * await publisher.reach(100);
 * await publisher.stop();
 * ```
 */
export class Publisher<Position = unknown> {
	readonly sent: Publication<Position>[] = [];
	readonly failed: number[] = [];
	readonly errors: Error[] = [];
	readonly signal = new Signal();
	#running = true;
	#loop: Promise<void>;

	constructor(publish: (n: number) => Promise<Position>, intervalMs = 2, from = 1) {
		this.#loop = (async () => {
			for (let n = from; this.#running; n++) {
				try {
					this.sent.push({ n, result: await publish(n) });
				} catch (error) {
					this.failed.push(n);
					this.errors.push(error as Error);
				}
				this.signal.changed();
				// Pacing, not synchronisation: a steady stream of about 1000 / intervalMs a second.
				await new Promise((resolve) => setTimeout(resolve, intervalMs));
			}
		})();
		publishers.add(this as Publisher<unknown>);
	}

	/** The numbers published successfully. */
	get numbers(): number[] {
		return this.sent.map((publication) => publication.n);
	}

	/** Resolves once `count` publishes went through. */
	reach(count: number, what = `${count} publishes`, ms?: number): Promise<void> {
		return this.signal.until(() => this.sent.length >= count, what, ms);
	}

	/** Resolves once `count` publishes failed. */
	failures(count: number, what = `${count} failed publishes`, ms?: number): Promise<void> {
		return this.signal.until(() => this.failed.length >= count, what, ms);
	}

	/** Stops after the publish in flight; resolves once the loop ended. */
	async stop(): Promise<void> {
		this.#running = false;
		await this.#loop;
		publishers.delete(this as Publisher<unknown>);
	}
}

/** Sent versus received sequence numbers. */
export interface Tally {
	sent: number;
	received: number;
	/** Sent but never received. */
	lost: number[];
	/** Received more than once (each extra copy counts). */
	duplicated: number[];
	/** Received but never sent successfully (a publish that failed on the way back). */
	unexpected: number[];
	/** Every message arrived after the previous one: strictly increasing. */
	ordered: boolean;
}

/**
 * Sent versus received: `lost`, `duplicated`, `unexpected`, and whether what arrived came in order.
 *
 * @example
 * ```ts
 * const { lost, duplicated } = tally(publisher.numbers, view.received);
 * ```
 */
export function tally(sent: readonly number[], received: readonly number[]): Tally {
	const seen = new Set<number>();
	const duplicated: number[] = [];
	for (const n of received) {
		if (seen.has(n)) duplicated.push(n);
		seen.add(n);
	}
	const sentSet = new Set(sent);
	return {
		sent: sent.length,
		received: received.length,
		lost: sent.filter((n) => !seen.has(n)),
		duplicated,
		unexpected: [...seen].filter((n) => !sentSet.has(n)),
		ordered: received.every((n, index) => index == 0 || n > received[index - 1])
	};
}

/** Prints the scenario's one line of figures and returns the tally. */
export function report(scenario: string, sent: readonly number[], received: readonly number[]) {
	const result = tally(sent, received);
	console.log(
		`chaos ${scenario}: sent ${result.sent}, received ${result.received}, ` +
			`lost ${result.lost.length}, duplicated ${result.duplicated.length}`
	);
	return result;
}

/** A short description of a list of numbers for assertion messages (first few and how many). */
export function few(numbers: readonly number[]): string {
	return numbers.length <= 10
		? `[${numbers.join(', ')}]`
		: `[${numbers.slice(0, 10).join(', ')}, …] (${numbers.length})`;
}

/**
 * A door the client's URL function waits at: closed, the client cannot reconnect (its attempt
 * waits for the URL), so a test decides how long it stays away without sleeping.
 *
 * @example
 * ```ts
 * const gate = new Gate();
 * const client = makeClient(() => gate.pass(() => server.url()));
 * gate.close(); // … drop the connection, publish while it is away …
 * gate.open();
 * ```
 */
export class Gate {
	#open = true;
	#waiters: (() => void)[] = [];

	close(): void {
		this.#open = false;
	}

	open(): void {
		this.#open = true;
		for (const wake of this.#waiters.splice(0)) wake();
	}

	/** Resolves with `value` once the gate is open. */
	async pass<T>(value: T | (() => T)): Promise<T> {
		while (!this.#open) await new Promise<void>((wake) => this.#waiters.push(wake));
		return typeof value == 'function' ? (value as () => T)() : value;
	}
}

/** A client's view of the chaos stream: what its handlers saw, its lifecycle events and join answers. */
export interface StreamView {
	readonly signal: Signal;
	/** Every `n` the `Seq` handler saw, in order. */
	readonly received: number[];
	/** Every fence the `Fence` handler saw. */
	readonly fences: number[];
	readonly connected: { reconnected: boolean; recovered: boolean }[];
	/** The rooms of every `Unrecoverable`. */
	readonly unrecoverable: string[];
	/** The data of every `room.joined` (join answers, and resets with `recovered: false`). */
	readonly answers: Record<string, unknown>[];
	/** Every `Seq` number and every `Unrecoverable` (as `UNRECOVERABLE`), in the order they came. */
	readonly timeline: (number | typeof UNRECOVERABLE)[];
	/** Resolves once `count` join answers for `room` arrived. */
	joined(count?: number, room?: string): Promise<void>;
	/** Resolves once at least `count` messages arrived. */
	receivedAtLeast(count: number, ms?: number): Promise<void>;
	/** Resolves once the fence `at` arrived. */
	fenced(at: number, ms?: number): Promise<void>;
}

/** An `Unrecoverable` in a `StreamView`'s timeline. */
export const UNRECOVERABLE = 'unrecoverable';

export function watchStream(client: SocketClient): StreamView {
	const signal = new Signal();
	const view: StreamView = {
		signal,
		received: [],
		fences: [],
		connected: [],
		unrecoverable: [],
		answers: [],
		timeline: [],
		joined: (count = 1, room = CHAOS_ROOM) =>
			signal.until(
				() => view.answers.filter((answer) => answer.room == room).length >= count,
				`join answer #${count} for ${room}`
			),
		receivedAtLeast: (count, ms) =>
			signal.until(() => view.received.length >= count, `${count} messages`, ms),
		fenced: (at, ms) => signal.until(() => view.fences.includes(at), `fence ${at}`, ms)
	};
	const record =
		<T>(into: T[]) =>
		(value: T) => {
			into.push(value);
			signal.changed();
		};
	client.on(Seq, ({ n }) => {
		view.timeline.push(n);
		record(view.received)(n);
	});
	client.on(Fence, ({ at }) => record(view.fences)(at));
	client.on(Connected, record(view.connected));
	client.on(Unrecoverable, ({ room }) => {
		view.timeline.push(UNRECOVERABLE);
		record(view.unrecoverable)(room);
	});
	client.onMessage((message: InboundMessage) => {
		if (message.name == 'room.joined')
			record(view.answers)(message.data as Record<string, unknown>);
	});
	return view;
}

/**
 * The messages lost without an excuse: a hole in what the client received (sent numbers it never
 * got) is excused only when an `Unrecoverable` came between the messages on either side of it,
 * i.e. the app was told to reload at that very point. Expects `received` in order (check `ordered`).
 *
 * @example
 * ```ts
 * expect(unexcusedLosses(publisher.numbers, view.timeline)).toEqual([]);
 * ```
 */
export function unexcusedLosses(
	sent: readonly number[],
	timeline: readonly (number | typeof UNRECOVERABLE)[]
): number[] {
	const received = new Set(timeline.filter((entry) => entry !== UNRECOVERABLE));
	const unexcused: number[] = [];
	// One walk through both, in order: everything in the timeline up to the next message received
	// after `n` is consumed, so `excused` tells whether the last thing before that was an Unrecoverable.
	let index = 0;
	let excused = false;
	for (const n of [...sent].sort((a, b) => a - b)) {
		for (; index < timeline.length; index++) {
			const entry = timeline[index];
			if (entry !== UNRECOVERABLE && entry > n) break;
			excused = entry === UNRECOVERABLE;
		}
		if (!received.has(n) && !excused) unexcused.push(n);
	}
	return unexcused;
}

/** What `watchServers` saw. */
export interface ServersWatch {
	/** One line per health check a running server did not answer within 2 s: it was hung. */
	readonly hangs: string[];
	/** The longest loop stall any of them reported, ms. */
	readonly longestStallMs: number;
	readonly checks: number;
}

/**
 * A detector for server processes that stop answering: health-checks every running server every
 * `everyMs` until the returned function is called. A check that a server killed or restarted in
 * the meantime missed does not count.
 *
 * @example
 * ```ts
 * const stopWatching = watchServers([a, b]);
 * // … kill Redis, restart servers …
 * const { hangs, longestStallMs } = await stopWatching();
 * expect(hangs).toEqual([]);
 * ```
 */
export function watchServers(
	servers: readonly ServerProcess[],
	everyMs = 250
): () => Promise<ServersWatch> {
	const hangs: string[] = [];
	let longestStallMs = 0;
	let checks = 0;
	let running = true;
	const check = async (server: ServerProcess): Promise<void> => {
		const starts = server.starts;
		if (!server.listening) return;
		try {
			longestStallMs = Math.max(longestStallMs, (await server.stats()).maxStallMs);
		} catch (error) {
			if (!server.listening || server.starts != starts) return;
			hangs.push(`port ${server.port}: ${(error as Error).message}\n${server.log.slice(-1_000)}`);
		}
		checks++;
	};
	const loop = (async () => {
		while (running) {
			await Promise.all(servers.map(check));
			// Pacing, not synchronisation: one round of checks every `everyMs`.
			await new Promise((resolve) => setTimeout(resolve, everyMs));
		}
	})();
	return async () => {
		running = false;
		await loop;
		return { hangs, longestStallMs, checks };
	};
}
