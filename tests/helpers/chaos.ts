import { afterEach } from 'vitest';
import {
	ClientMessage,
	Connected,
	Unrecoverable,
	type InboundMessage,
	type SocketClient
} from '../../src/lib/index.js';
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

// A test that failed half-way must not leave its stream running into the next one.
afterEach(async () => {
	await Promise.all([...publishers].map((publisher) => publisher.stop()));
});

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
	/** Resolves once `count` join answers for `room` arrived. */
	joined(count?: number, room?: string): Promise<void>;
	/** Resolves once at least `count` messages arrived. */
	receivedAtLeast(count: number, ms?: number): Promise<void>;
	/** Resolves once the fence `at` arrived. */
	fenced(at: number, ms?: number): Promise<void>;
}

export function watchStream(client: SocketClient): StreamView {
	const signal = new Signal();
	const view: StreamView = {
		signal,
		received: [],
		fences: [],
		connected: [],
		unrecoverable: [],
		answers: [],
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
	client.on(Seq, ({ n }) => record(view.received)(n));
	client.on(Fence, ({ at }) => record(view.fences)(at));
	client.on(Connected, record(view.connected));
	client.on(Unrecoverable, ({ room }) => record(view.unrecoverable)(room));
	client.onMessage((message: InboundMessage) => {
		if (message.name == 'room.joined')
			record(view.answers)(message.data as Record<string, unknown>);
	});
	return view;
}
