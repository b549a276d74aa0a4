import { randomFillSync } from 'node:crypto';
import { isRecord } from '../protocol/envelope.js';
import type { HistoryOptions, HistoryPolicy, HistoryResult, StreamPosition } from './engine.js';

// What every engine shares about a room's history: its policy, its epochs and the answers to
// `history` that need no stored message.

/**
 * What a room keeps when the options say nothing: the last 100 messages, 5 minutes each.
 */
export const HISTORY_DEFAULTS: Readonly<HistoryPolicy> = Object.freeze({ size: 100, ttl: 300_000 });

/**
 * The history policy of `room` under `options`, defaults filled in. Throws a `TypeError` naming the
 * room when a value is not a whole number ≥ 0 (size) or a finite number ≥ 0 (ttl).
 */
export function historyPolicy(options: HistoryOptions | undefined, room: string): HistoryPolicy {
	const chosen = typeof options == 'function' ? options(room) : options;
	const size = chosen?.size ?? HISTORY_DEFAULTS.size;
	const ttl = chosen?.ttl ?? HISTORY_DEFAULTS.ttl;
	if (!Number.isSafeInteger(size) || size < 0) {
		throw new TypeError(
			`History size of room "${room}" must be a whole number >= 0, not ${String(size)}`
		);
	}
	if (typeof ttl != 'number' || !Number.isFinite(ttl) || ttl < 0) {
		throw new TypeError(
			`History ttl of room "${room}" must be a finite number of ms >= 0, not ${String(ttl)}`
		);
	}
	return { size, ttl };
}

/**
 * Throws a `TypeError` when a fixed (non-function) history policy is invalid; engines call it in
 * their constructor so a bad option fails at once.
 */
export function checkHistoryOptions(options: HistoryOptions | undefined): void {
	if (typeof options != 'function') historyPolicy(options, '(every room)');
}

/**
 * A fresh random epoch: 8 URL-safe characters (48 random bits). An epoch only has to differ from the
 * earlier epochs of its own room, and it travels in every room delivery, so it is kept short. Epochs
 * are cut from a pool of random bytes refilled once every 256: the Redis publish script takes a new
 * epoch with every call (it keeps it only when the room is new), and one call to the system's random
 * source per publish cost about 2 µs, a third of the engine's own work on a publish.
 */
export function newEpoch(): string {
	if (epochsUsed == EPOCHS_PER_FILL) {
		randomFillSync(epochPool);
		epochsUsed = 0;
	}
	const start = EPOCH_BYTES * epochsUsed++;
	return epochPool.toString('base64url', start, start + EPOCH_BYTES);
}

/** Random bytes in one epoch: 8 URL-safe characters. */
const EPOCH_BYTES = 6;
/** Epochs cut from one fill of the pool. */
const EPOCHS_PER_FILL = 256;
const epochPool = Buffer.alloc(EPOCH_BYTES * EPOCHS_PER_FILL);
let epochsUsed = EPOCHS_PER_FILL;

/**
 * Whether `since` looks like a position an engine handed out (it may come from a client): a whole
 * `offset` ≥ 0 and a string `epoch`.
 */
export function isStreamPosition(since: unknown): since is StreamPosition {
	if (!isRecord(since)) return false;
	const { offset, epoch } = since;
	return Number.isSafeInteger(offset) && (offset as number) >= 0 && typeof epoch == 'string';
}

/**
 * The answer to `history(room, since)` when it cannot be recovered.
 */
export function notRecovered(position: StreamPosition): HistoryResult {
	return { recovered: false, position, messages: [] };
}

/**
 * The answer to `history('*', since)`: that room keeps no history, so only "nothing to recover"
 * succeeds.
 */
export function everyoneHistory(since: StreamPosition | undefined): HistoryResult {
	return { recovered: since === undefined, position: { offset: 0, epoch: '' }, messages: [] };
}

/**
 * The answers to `history` that need no stored message, the same for every engine: no `since`; a
 * `since` that is malformed, of another epoch or beyond the room's position; and a `since` that is
 * the position itself. `undefined` when the messages after `since` must be read.
 */
export function historyWithoutMessages(
	position: StreamPosition,
	since: StreamPosition | undefined
): HistoryResult | undefined {
	if (since === undefined) return { recovered: true, position, messages: [] };
	if (
		!isStreamPosition(since) ||
		since.epoch !== position.epoch ||
		since.offset > position.offset
	) {
		return notRecovered(position);
	}
	if (since.offset == position.offset) return { recovered: true, position, messages: [] };
	return undefined;
}
