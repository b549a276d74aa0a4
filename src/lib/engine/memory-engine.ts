import { isRecord } from '../protocol/envelope.js';
import {
	EVERYONE,
	type Engine,
	type EngineCommand,
	type EngineHandlers,
	type HistoryOptions,
	type HistoryPolicy,
	type HistoryResult,
	type PublishOptions,
	type StreamPosition
} from './engine.js';
import {
	checkHistoryOptions,
	everyoneHistory,
	historyPolicy,
	historyWithoutMessages,
	newEpoch,
	notRecovered
} from './history.js';
import { MemoryPresence } from './memory-presence.js';
import { MemoryRequestKeys } from './memory-request-keys.js';
import { MemoryUserSlots } from './memory-user-slots.js';

/**
 * Options of a `MemoryEngine`.
 */
export interface MemoryEngineOptions {
	/** How much history each room keeps (default: the last 100 messages, 5 minutes each). */
	history?: HistoryOptions;
}

interface RoomState {
	offset: number;
	readonly epoch: string;
	/** When its first publish made it (ms). */
	readonly born: number;
	/** The kept messages, oldest first, with when each was published (ms). */
	readonly kept: { readonly at: number; readonly message: Record<string, unknown> }[];
}

/** How often (at most) a `MemoryEngine` looks for rooms it can forget. */
const SWEEP_INTERVAL_MS = 60_000;

/**
 * The default engine: one process, no network. A publish is delivered synchronously, to this
 * process. Each room gets an offset counter and a random epoch when it is first published to, and
 * keeps its recent messages (by default the last 100, for 5 minutes) so clients can recover what
 * they missed. A room with no history left and no subscriber may be forgotten: it then starts over
 * with a new epoch. Before its first publish a room is at offset 0 of an epoch `~<ms>:<engine>` that
 * nothing keeps, and a position read then recovers the first epoch from its first message. It keeps
 * presence too (`presence`), for routes that ask for it, per-user connection slots (`userSlots`),
 * request keys with their answers (`requestKeys`), and runs commands (`command`) in this process.
 *
 * @example
 * ```ts
 * createSocketServer({ engine: new MemoryEngine({ history: { size: 200 } }), routes: [{ path: '/ws' }] });
 * ```
 */
export class MemoryEngine implements Engine {
	#handlers: EngineHandlers | undefined;
	#history: HistoryOptions | undefined;
	#rooms = new Map<string, RoomState>();
	/** The rooms subscribed, with since when (ms). */
	#subscribed = new Map<string, number>();
	/** Tells this engine's unpublished epochs from another's (another process, or before a restart). */
	readonly #tag = newEpoch();
	#lastSweep = 0;
	/** Who is in which room, merged by user; changes go to the server's `presence` handler. */
	readonly presence = new MemoryPresence((room, change) =>
		this.#handlers?.presence?.(room, change)
	);

	/** Connections per user, for routes with `maxConnectionsPerUser`. */
	readonly userSlots = new MemoryUserSlots();

	/** Request keys and their answers, for exactly-once requests (in this process). */
	readonly requestKeys = new MemoryRequestKeys();

	constructor(options: MemoryEngineOptions = {}) {
		checkHistoryOptions(options.history);
		this.#history = options.history;
	}

	start(handlers: EngineHandlers): void {
		this.#handlers = handlers;
	}

	subscribe(room: string): void {
		if (!this.#subscribed.has(room)) this.#subscribed.set(room, Date.now());
	}

	unsubscribe(room: string): void {
		this.#subscribed.delete(room);
		const state = this.#rooms.get(room);
		if (state) this.#forgetIfIdle(room, state, Date.now());
	}

	/** One process: the command runs here, at once (`disconnectUser`, `reauthorizeUser`). */
	async command(command: EngineCommand): Promise<void> {
		this.#handlers?.command?.(command);
	}

	async publish(
		room: string,
		message: unknown,
		options: PublishOptions = {}
	): Promise<StreamPosition | undefined> {
		if (room == EVERYONE || !isRecord(message)) {
			this.#handlers?.deliver(room, message, options.except);
			return undefined;
		}
		const policy = historyPolicy(this.#history, room);
		const now = Date.now();
		this.#sweep(now);
		const state = this.#state(room, now);
		const offset = ++state.offset;
		const stamped = { ...message, offset, epoch: state.epoch };
		if (policy.size > 0 && policy.ttl > 0) state.kept.push({ at: now, message: stamped });
		trim(state, policy, now);
		this.#handlers?.deliver(room, stamped, options.except);
		return { offset, epoch: state.epoch };
	}

	async history(room: string, since?: StreamPosition): Promise<HistoryResult> {
		if (room == EVERYONE) return everyoneHistory(since);
		const policy = historyPolicy(this.#history, room);
		const now = Date.now();
		this.#sweep(now);
		const state = this.#rooms.get(room);
		if (!state) {
			// Never published to (or forgotten): reading it leaves nothing behind.
			const position = { offset: 0, epoch: `~${now}:${this.#tag}` };
			const from = this.#follows(room, since, now, policy, now) ? position : since;
			return historyWithoutMessages(position, from) ?? notRecovered(position);
		}
		trim(state, policy, now);
		const position = { offset: state.offset, epoch: state.epoch };
		const from = this.#follows(room, since, state.born, policy, now)
			? { offset: 0, epoch: state.epoch }
			: since;
		const answer = historyWithoutMessages(position, from);
		if (answer) return answer;
		const missed = state.offset - from!.offset;
		if (missed > state.kept.length) return notRecovered(position);
		const messages = state.kept.slice(state.kept.length - missed).map((entry) => entry.message);
		return { recovered: true, position, messages };
	}

	async close(): Promise<void> {
		this.#handlers = undefined;
		this.#rooms.clear();
		this.#subscribed.clear();
	}

	#state(room: string, now: number): RoomState {
		let state = this.#rooms.get(room);
		if (!state) {
			state = { offset: 0, epoch: newEpoch(), born: now, kept: [] };
			this.#rooms.set(room, state);
		}
		return state;
	}

	/**
	 * Whether `since` is a position read on this engine before the room's first publish that the
	 * room's epoch begun at `began` (now, for a room still not published to) follows: read before
	 * then, with no other epoch of the room begun and forgotten in between. None was when the room
	 * stayed subscribed since the read (a subscribed room is never forgotten), or when less than the
	 * room's history ttl passed (a room is forgotten only once its last message expired).
	 */
	#follows(
		room: string,
		since: StreamPosition | undefined,
		began: number,
		policy: HistoryPolicy,
		now: number
	): boolean {
		if (since?.offset !== 0 || typeof since.epoch != 'string') return false;
		const unpublished = /^~(\d+):(.+)$/.exec(since.epoch);
		if (!unpublished || unpublished[2] != this.#tag) return false;
		const readAt = Number(unpublished[1]);
		if (readAt > now || began < readAt) return false;
		const subscribedAt = this.#subscribed.get(room);
		if (subscribedAt !== undefined && subscribedAt <= readAt) return true;
		return began - readAt < (policy.size > 0 ? policy.ttl : 0);
	}

	#forgetIfIdle(room: string, state: RoomState, now: number): void {
		if (this.#subscribed.has(room)) return;
		let policy: HistoryPolicy;
		try {
			policy = historyPolicy(this.#history, room);
		} catch {
			return; // the room's policy is broken: its publishes say so, keep it
		}
		trim(state, policy, now);
		if (state.kept.length == 0) this.#rooms.delete(room);
	}

	/** Forgets idle rooms now and then, so rooms published to once do not pile up. */
	#sweep(now: number): void {
		if (now - this.#lastSweep < SWEEP_INTERVAL_MS) return;
		this.#lastSweep = now;
		for (const [room, state] of this.#rooms) this.#forgetIfIdle(room, state, now);
	}
}

/** Drops what is past the room's size, then what is older than its ttl. */
function trim(state: RoomState, policy: HistoryPolicy, now: number): void {
	const { kept } = state;
	const keep = policy.ttl > 0 ? policy.size : 0;
	if (kept.length > keep) kept.splice(0, kept.length - keep);
	let expired = 0;
	while (expired < kept.length && now - kept[expired].at >= policy.ttl) expired++;
	if (expired) kept.splice(0, expired);
}
