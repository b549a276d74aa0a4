import type { ErrorCodeValue } from '../protocol/error-codes.js';
import type { MessageDefinition } from '../protocol/message.js';
import { reconnectDelay } from './backoff.js';
import { Connected, SocketError } from './events.js';
import {
	readEntries,
	storedText,
	writeEntries,
	type OutboxStorage,
	type StoredEntry
} from './outbox-storage.js';
import { isRequestKey, requestKey } from './request-key.js';
import { MAX_TIMER_MS, type SocketClient } from './socket-client.js';

/**
 * Options of an `Outbox`. Every one is optional: the default keeps entries in memory only.
 *
 * @example
 * ```ts
 * const options: OutboxOptions = { storage: sessionStorage, deadline: 60_000 };
 * ```
 */
export interface OutboxOptions {
	/**
	 * Where entries survive a reload: `sessionStorage` in a page (pass it; the outbox reads no global).
	 * Default `false`: nothing is written anywhere. What is written is each entry's name, data and
	 * key, in clear: leave it `false` for data that must not touch the disk.
	 */
	storage?: OutboxStorage | false;
	/** The storage item the entries go under. Default `'runesocket:outbox'`; one outbox per item. */
	storageKey?: string;
	/**
	 * How long an entry may wait for its answer (or, a message, for a connection), in ms from when
	 * it was made; past it, it is dropped as `expired`. Default 300 000 (5 min): under the server's
	 * key window (10 min), so that no retry comes after the server forgot the key.
	 */
	deadline?: number;
	/** Most entries kept at once; a new one past it is refused (dropped as `overflow`). Default 100. */
	maxEntries?: number;
	/**
	 * Most characters of JSON (the entries as they are stored) kept at once; a new entry past it is
	 * refused (`overflow`). Default 262 144 (256 KiB), well under a browser's storage quota.
	 */
	maxBytes?: number;
	/**
	 * Smallest backoff window in ms before a request goes again after a `timeout`, `no_reply`,
	 * `unavailable` or `rate_limited` (full jitter; the window doubles per retry up to 5 s). Default 250.
	 */
	retryDelay?: number;
}

/**
 * A request or a message the outbox holds until it is answered (a request) or handed to an open
 * connection (a message), or dropped. `deadline` and `createdAt` are ms since the epoch. `settled`
 * resolves with the reply's data (a message: with `undefined` once sent), or rejects with the
 * `SocketError` that ended it; it never counts as an unhandled rejection.
 */
export interface OutboxEntry extends StoredEntry {
	readonly settled: Promise<unknown>;
}

/**
 * An entry the outbox gave up on: past its deadline (`expired`; a request also rejects with a
 * `timeout`), refused because the outbox was full (`overflow`; rejects with an `overflow`), or one
 * the storage could not keep (`storage`: a full quota or blocked storage; the entry stays in memory
 * and goes on, but would not survive a reload).
 */
export interface OutboxDrop {
	readonly entry: OutboxEntry;
	readonly reason: 'expired' | 'overflow' | 'storage';
}

/**
 * Options of one outbox request.
 */
export interface OutboxRequestOptions {
	/** ms from now; default the outbox's `deadline`. */
	deadline?: number;
	/**
	 * The request key (1..64 characters). Default: a fresh random one. A key already in the outbox
	 * joins that entry (its answer is this call's) instead of making another.
	 */
	key?: string;
}

// An entry's life: one phase, changed only by #move.
//
//          made while connected            answered / final error / deadline
//   (new) ────────────────────────▶ SENT ───────────────────────────────────▶ SETTLED
//     │ made while not           ▲    │ closed           │ timeout, no_reply,
//     ▼ connected       Connected│    ▼                  ▼ unavailable, rate_limited
//   WAITING ─────────────────────┘  WAITING         BACKING_OFF ──timer──▶ SENT (or WAITING)
//
// Any phase goes to SETTLED at its deadline or on dispose(). A message is SETTLED as soon as it is
// handed to an open connection.

/** Waits for the next `Connected` (the client is not connected). */
const WAITING = 0;
/** Waits for its retry timer. */
const BACKING_OFF = 1;
/** An attempt is in flight: its answer (or its failure) moves it on. */
const SENT = 2;
/** Out of the outbox: answered, refused, expired, dropped or disposed. */
const SETTLED = 3;

type Phase = typeof WAITING | typeof BACKING_OFF | typeof SENT | typeof SETTLED;

/** How a settled entry ended: the reply (or `undefined` for a sent message), or the error. */
type Outcome = { readonly value: unknown } | { readonly error: unknown };

/** What the outbox keeps per entry beside the entry itself. */
interface Slot {
	readonly entry: OutboxEntry;
	/** Its JSON as stored: `maxBytes` counts its length. */
	readonly text: string;
	phase: Phase;
	/** Retries after a backoff so far: each doubles the next backoff's window. */
	retries: number;
	/** Owned by BACKING_OFF. */
	retryTimer?: ReturnType<typeof setTimeout>;
	readonly deadlineTimer: ReturnType<typeof setTimeout>;
	readonly end: (outcome: Outcome) => void;
}

/**
 * Server error codes that mean "nothing known went wrong: send it again later, same key". Spelled
 * out (typed by `ErrorCodeValue`) rather than read from `ErrorCode`, which would bring every code
 * into the bundle.
 */
const RETRIED_CODES: readonly (ErrorCodeValue | undefined)[] = [
	'no_reply',
	'unavailable',
	'rate_limited'
];

/** The longest a backoff window grows. */
const MAX_RETRY_DELAY = 5_000;

const DEFAULTS = {
	storageKey: 'runesocket:outbox',
	deadline: 300_000,
	maxEntries: 100,
	maxBytes: 262_144,
	retryDelay: 250
};

/**
 * Exactly-once requests and messages that survive a reload, around a `SocketClient`. A request
 * gets a key (the same on every attempt) and is sent again, until answered or past its deadline,
 * when its connection drops (on the next `Connected`) or the server could not answer yet (after a
 * short backoff): a runesocket server runs its handler once per key and answers a repeat with the
 * first answer. A message (`emit`) made while not connected is kept until the next `Connected`.
 * With `storage`, what is not answered or sent yet is written there and sent again, with the same
 * keys, by the outbox a reloaded page makes on the same storage. Entries go in the order they were
 * made; a retry after a backoff goes when its timer ends.
 *
 * Only runesocket's own protocol carries keys: with another dialect a retried request may run
 * twice. One outbox per client and per storage item.
 *
 * @example
 * ```ts
 * import { Outbox, SocketClient, ClientMessage } from 'runesocket';
 *
 * const AckIncident = ClientMessage.define<{ uuid: string }>('incident.ack');
 * const client = new SocketClient('/ws');
 * const outbox = new Outbox(client, { storage: sessionStorage });
 * outbox.onDrop(({ entry, reason }) => console.warn(`${entry.name} not sent (${reason})`));
 * client.connect();
 * await outbox.request(AckIncident, { uuid: 'a1' }); // applied once, however often it is sent
 * ```
 */
export class Outbox {
	#client: SocketClient;
	#options: typeof DEFAULTS & OutboxOptions;
	#storage: OutboxStorage | undefined;
	/** Every entry not settled yet, by key, in the order made (restored ones first). */
	#slots = new Map<string, Slot>();
	/** The sum of the slots' text lengths. */
	#bytes = 0;
	#dropHandlers = new Set<(drop: OutboxDrop) => void>();
	/** Entries the last failed write left out of the storage, each reported once. */
	#unstored = new Set<Slot>();
	#stopListening: () => void;
	#disposed = false;

	constructor(client: SocketClient, options: OutboxOptions = {}) {
		this.#client = client;
		this.#options = { ...DEFAULTS, ...options };
		this.#storage = options.storage || undefined;
		for (const key of ['deadline', 'maxEntries', 'maxBytes', 'retryDelay'] as const) {
			if (!(this.#options[key] >= 0)) throw new TypeError(`${key} must be >= 0`);
		}
		this.#stopListening = client.on(Connected, () => this.#flush());
		if (this.#storage) this.#restore(readEntries(this.#storage, this.#options.storageKey));
	}

	/** Entries not settled yet, in the order they were made. */
	get entries(): readonly OutboxEntry[] {
		return [...this.#slots.values()].map((slot) => slot.entry);
	}

	/**
	 * Sends a request exactly once: resolves with the reply's data, or rejects with the `SocketError`
	 * that ended it (the server's refusal, `timeout` past the deadline, `overflow`, `closed` on
	 * dispose). See the class for when it goes again.
	 */
	request<Reply = unknown, Data = unknown>(
		definition: MessageDefinition<Data>,
		data: Data,
		{ deadline = this.#options.deadline, key = requestKey() }: OutboxRequestOptions = {}
	): Promise<Reply> {
		try {
			if (!isRequestKey(key)) throw new TypeError(`Bad request key: ${String(key)}`);
			const slot =
				this.#slots.get(key) ??
				this.#add({ kind: 'request', key, name: definition.name, data }, deadline);
			// A promise of its own per call: `settled` is marked handled, this one is the caller's.
			return slot.entry.settled.then() as Promise<Reply>;
		} catch (error) {
			return Promise.reject(error);
		}
	}

	/**
	 * Sends a message now if connected (and nothing made earlier still waits); otherwise keeps it,
	 * in storage too, until the next `Connected`. A message has no answer: once handed to an open
	 * connection it is out of the outbox, delivered as surely as `client.emit`'s.
	 */
	emit<Data>(definition: MessageDefinition<Data>, data: Data): void {
		if (this.#disposed) throw new Error('Outbox disposed');
		// No entry for what can go at once: nothing to keep, nothing to write.
		if (this.#client.isConnected && !this.#waiting()) {
			try {
				return this.#client.emit(definition, data, { buffer: false });
			} catch (error) {
				// Not connected after all (a socket closing): kept like any message made offline.
				if (!(error instanceof SocketError)) throw error;
			}
		}
		this.#add({ kind: 'message', key: requestKey(), name: definition.name, data });
	}

	/**
	 * Calls `handler` with every entry given up on (and every one the storage could not keep);
	 * returns the unsubscribe function. Without any handler, drops go to `console.warn`.
	 */
	onDrop(handler: (drop: OutboxDrop) => void): () => void {
		this.#dropHandlers.add(handler);
		return () => this.#dropHandlers.delete(handler);
	}

	/**
	 * Stops: unsubscribes from the client, clears every timer, and rejects what is not settled with
	 * `closed`. The storage is left as it is, for the next outbox on it (a page that makes a new one).
	 */
	dispose(): void {
		this.#disposed = true;
		this.#stopListening();
		for (const slot of this.#slots.values()) {
			this.#move(slot, SETTLED, { error: new SocketError('closed', 'Outbox disposed') });
		}
	}

	/** Makes an entry and sends it at once, or keeps it: see `request` and `emit`. */
	#add(
		made: Pick<StoredEntry, 'kind' | 'key' | 'name' | 'data'>,
		deadline = this.#options.deadline
	): Slot {
		if (this.#disposed) throw new Error('Outbox disposed');
		const createdAt = Date.now();
		const slot = this.#slot({ ...made, createdAt, deadline: createdAt + deadline });
		if (!this.#fits(slot)) {
			this.#refuse(slot);
			return slot;
		}
		// Behind what waits already, so that entries go in the order they were made.
		const behind = this.#waiting();
		this.#admit(slot);
		// Written before it is sent: a page that dies with the request in flight sends it again.
		this.#persist();
		if (this.#client.isConnected && !behind) this.#move(slot, SENT);
		return slot;
	}

	/** Whether an entry waits for the next `Connected`. */
	#waiting(): boolean {
		return [...this.#slots.values()].some(({ phase }) => phase == WAITING);
	}

	/** An entry's slot, WAITING, its deadline running. Throws when JSON cannot hold its data. */
	#slot(stored: StoredEntry): Slot {
		const text = storedText(stored);
		let end!: (outcome: Outcome) => void;
		const settled = new Promise((resolve, reject) => {
			end = (outcome) => ('error' in outcome ? reject(outcome.error) : resolve(outcome.value));
		});
		// Nobody may read a restored entry's `settled`: its rejection must not be "unhandled".
		settled.catch(() => {});
		const entry: OutboxEntry = Object.freeze({ ...stored, settled });
		// A deadline further off than a timer can wait is cut to it (about 23 days).
		const wait = Math.min(Math.max(stored.deadline - Date.now(), 0), MAX_TIMER_MS);
		const slot: Slot = {
			entry,
			text,
			phase: WAITING,
			retries: 0,
			deadlineTimer: setTimeout(() => this.#expire(slot), wait),
			end
		};
		return slot;
	}

	/** Whether `slot` fits in the outbox beside what it holds. */
	#fits(slot: Slot): boolean {
		const { maxEntries, maxBytes } = this.#options;
		return this.#slots.size < maxEntries && this.#bytes + slot.text.length <= maxBytes;
	}

	#admit(slot: Slot): void {
		this.#slots.set(slot.entry.key, slot);
		this.#bytes += slot.text.length;
	}

	/** Ends an entry that did not fit: it rejects with `overflow`, and is reported. */
	#refuse(slot: Slot): void {
		this.#move(slot, SETTLED, { error: new SocketError('overflow', 'Outbox full') }, 'overflow');
	}

	/**
	 * The one way an entry changes phase: tears down what the phase being left owned (its retry
	 * timer), then does what the new phase starts with — send (SENT), wait for the timer
	 * (BACKING_OFF), or end the entry (SETTLED: out of the outbox and of the storage, its promise
	 * settled with `outcome`, and reported when `drop` says it was given up on).
	 */
	#move(slot: Slot, phase: Phase, outcome?: Outcome, drop?: OutboxDrop['reason']): void {
		if (slot.phase == SETTLED) return;
		clearTimeout(slot.retryTimer);
		slot.phase = phase;
		if (phase == SENT) this.#send(slot);
		else if (phase == BACKING_OFF) {
			const { retryDelay } = this.#options;
			const delay = retryDelay + reconnectDelay(slot.retries++, retryDelay, MAX_RETRY_DELAY);
			slot.retryTimer = setTimeout(() => this.#move(slot, this.#sendable()), delay);
		} else if (phase == SETTLED) {
			clearTimeout(slot.deadlineTimer);
			// Only what was taken in is taken out: a refused entry never was.
			if (this.#slots.get(slot.entry.key) == slot) {
				this.#slots.delete(slot.entry.key);
				this.#unstored.delete(slot);
				this.#bytes -= slot.text.length;
				this.#persist();
			}
			slot.end(outcome!);
			if (drop) this.#report({ entry: slot.entry, reason: drop });
		}
	}

	/** Where an entry due to go now goes: SENT while connected, else WAITING for the next `Connected`. */
	#sendable(): Phase {
		return this.#client.isConnected ? SENT : WAITING;
	}

	/**
	 * One attempt. A message is handed to the open connection and settled; a request settles with its
	 * answer, or goes on: WAITING after `closed` (the next `Connected` sends it), BACKING_OFF after a
	 * `timeout` or a retried server code. Only the attempt in flight can move its entry out of SENT:
	 * an answer that comes once the entry settled (its deadline passed) is nobody's.
	 */
	#send(slot: Slot): void {
		const { kind, name, data, key } = slot.entry;
		const definition = { name, schema: undefined };
		if (kind == 'message') {
			try {
				this.#client.emit(definition, data, { buffer: false });
			} catch {
				// Not connected after all (a socket closing): the next Connected sends it.
				return this.#move(slot, WAITING);
			}
			return this.#move(slot, SETTLED, { value: undefined });
		}
		this.#client.request(definition, data, { key }).then(
			(value) => slot.phase == SENT && this.#move(slot, SETTLED, { value }),
			(error: unknown) => slot.phase == SENT && this.#move(slot, ...this.#after(error))
		);
	}

	/** Where a failed attempt leaves its request, per the error. */
	#after(error: unknown): [Phase, Outcome?] {
		if (!(error instanceof SocketError)) return [SETTLED, { error }];
		if (error.kind == 'closed') return [WAITING];
		if (error.kind == 'timeout' || RETRIED_CODES.includes(error.code as ErrorCodeValue))
			return [BACKING_OFF];
		return [SETTLED, { error }];
	}

	/** A new connection: whatever waits for one goes, in the order it was made. */
	#flush(): void {
		for (const slot of this.#slots.values()) {
			if (!this.#client.isConnected) return;
			if (slot.phase == WAITING) this.#move(slot, SENT);
		}
	}

	#expire(slot: Slot): void {
		const error = new SocketError('timeout', `"${slot.entry.name}" not answered by its deadline`);
		this.#move(slot, SETTLED, { error }, 'expired');
	}

	/**
	 * Takes in what an earlier page left in the storage, in its order: sent once connected. Past
	 * the bounds (smaller ones than that page's), the newest are refused as `overflow`; past their
	 * deadline, they expire when their (0 ms) deadline timer fires. Both are reported after the
	 * constructor returned, so an `onDrop` made right after it hears of them.
	 */
	#restore(stored: StoredEntry[]): void {
		const refused: Slot[] = [];
		for (const entry of stored) {
			// The same key twice is one entry (no outbox writes that; someone else's text might).
			if (this.#slots.has(entry.key)) continue;
			const slot = this.#slot(entry);
			if (this.#fits(slot)) this.#admit(slot);
			else refused.push(slot);
		}
		this.#persist();
		queueMicrotask(() => refused.forEach((slot) => this.#refuse(slot)));
		if (this.#client.isConnected) this.#flush();
	}

	/**
	 * Writes every entry not settled yet. A storage that refuses (quota, `SecurityError`) is
	 * emptied instead, so that a reload does not send again what was settled since; each entry it
	 * then no longer holds is reported as `storage` once (it goes on from memory).
	 */
	#persist(): void {
		const storage = this.#storage;
		if (!storage || this.#disposed) return;
		const { storageKey } = this.#options;
		try {
			writeEntries(
				storage,
				storageKey,
				[...this.#slots.values()].map((slot) => slot.text)
			);
			this.#unstored.clear();
		} catch {
			try {
				storage.removeItem(storageKey);
			} catch {
				// A storage that refuses even this cannot be read by the next page either.
			}
			for (const slot of this.#slots.values()) {
				if (this.#unstored.has(slot)) continue;
				this.#unstored.add(slot);
				this.#report({ entry: slot.entry, reason: 'storage' });
			}
		}
	}

	#report(drop: OutboxDrop): void {
		if (!this.#dropHandlers.size) return console.warn('[runesocket] outbox dropped', drop);
		for (const handler of this.#dropHandlers) {
			try {
				handler(drop);
			} catch (error) {
				(globalThis.reportError ?? console.error)(error);
			}
		}
	}
}
