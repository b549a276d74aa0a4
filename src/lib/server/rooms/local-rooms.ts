import {
	conflationId,
	ERROR_MESSAGE,
	isRecord,
	JOINED_MESSAGE,
	roomDeliveryFrame,
	type StreamPosition
} from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { type Engine, type HistoryResult } from '../../engine/engine.js';
import { isStreamPosition } from '../../engine/history.js';
import { ServerMetrics } from '../metrics/metrics.js';
import { PreparedMessage } from '../transport/prepared-message.js';

/**
 * What `LocalRooms` needs of a connection: a `Connection` is one. Spelled out rather than picked from
 * `Connection`, whose internal members are not in the published declarations.
 */
export interface RoomMember {
	readonly id: string;
	readonly authenticated: boolean;
	readonly joinedRooms: ReadonlySet<string>;
	sendPrepared(message: PreparedMessage): boolean;
	deliverToRoom(room: string, message: PreparedMessage, position?: StreamPosition): void;
	sendReserved(name: string, data: unknown, id?: number): boolean;
	startReplay(room: string): void;
	endReplay(room: string, replayedUpTo?: StreamPosition): void;
	leaveRoom(room: string): void;
	conflated(count: number): void;
}

/** A room message on its way to the members, serialised once (also while it waits behind a gap). */
interface Pending {
	readonly prepared: PreparedMessage;
	/** Its place in the room's stream, when it has one. */
	readonly position: StreamPosition | undefined;
	/** A connection that must not receive it. */
	readonly except: string | undefined;
}

/**
 * The first retry of a failed history read waits this long, each next one twice as long up to
 * `FILL_RETRY_MAX_MS`: an engine that fails at once (Redis reconnecting) is asked again only after
 * timers and I/O ran, so its connection can come back.
 */
const FILL_RETRY_FIRST_MS = 100;
const FILL_RETRY_MAX_MS = 2_000;
/**
 * Reads of one gap's history before the room is reset: about 9 s of trying, longer than ioredis
 * waits between reconnection attempts (at most 5.2 s), so a command connection that comes back
 * after the subscriber still fills the gap.
 */
const FILL_ATTEMPTS = 9;
/**
 * Deliveries that may wait behind a gap, by count and by serialised size (a few messages near
 * `maxMessageSize` weigh more than a thousand small ones); past either the room is reset rather
 * than memory grown. A gap longer than a room's history cannot be filled anyway (default 100).
 */
const MAX_WAITING = 1_000;
const MAX_WAITING_BYTES = 4 * 1024 * 1024;

/** A gap being filled from history: what waits behind it, and the attempts so far. */
interface Fill {
	/** Deliveries that arrived meanwhile, in order. */
	waiting: Pending[];
	/** Their serialised size. */
	waitingBytes: number;
	/** History reads that did not close the gap. */
	failures: number;
	/** The next attempt, while one is scheduled. */
	timer: ReturnType<typeof setTimeout> | undefined;
}

interface RoomState {
	members: Set<RoomMember>;
	/** Settles once this process receives the room's messages from the engine. */
	subscribed: Promise<void>;
	/** The last message this process delivered to the room: where a gap would start. */
	last: StreamPosition | undefined;
	/** Set while missing history is being fetched: deliveries wait in it, in order. */
	fill: Fill | undefined;
	/** Members whose join waits for the subscription: their join answers them. */
	joining: Set<RoomMember>;
	/** The engine refused the room: whoever still joins it is told so. */
	refused: boolean;
}

/** The fields of an envelope as engines stamp it: what the compact room delivery can carry. */
const DELIVERY_FIELDS = new Set([
	'name',
	'data',
	'timestamp',
	'room',
	'offset',
	'epoch',
	'conflationKey'
]);

/**
 * A room message as its members get it: named after its room, whoever published it (a typed
 * `publish`, a raw `broadcast`, another process's engine), so clients can track where they are.
 * An envelope with a stream position goes out in the compact array form; anything else a raw
 * `broadcast` sent (other fields, another dialect's shape) keeps its shape, with `room` added.
 */
function inRoom(message: unknown, room: string): unknown {
	if (!isRecord(message)) return message;
	if (
		typeof message.name == 'string' &&
		typeof message.offset == 'number' &&
		// `serverMessage` leaves absent fields undefined (JSON drops them), as `id` is on a publish.
		Object.keys(message).every(
			(field) => DELIVERY_FIELDS.has(field) || message[field] === undefined
		)
	) {
		return roomDeliveryFrame(message as { name: string }, room);
	}
	return message.room != room ? { ...message, room } : message;
}

/**
 * What a member of a room the engine refused is told: the `error` of a refused join, with the room
 * (the details, e.g. Redis' ACL, stay on the server).
 */
function unavailable(room: string) {
	return {
		room,
		code: ErrorCode.Internal,
		message: `Room "${room}" is unavailable: this server cannot receive its messages`
	};
}

/** Where a room stands when nothing is known: its members accept whatever comes next. */
const UNKNOWN_POSITION: StreamPosition = Object.freeze({ offset: 0, epoch: '' });

function positionOf(message: unknown): StreamPosition | undefined {
	if (!isRecord(message)) return undefined;
	const position = { offset: message.offset, epoch: message.epoch };
	return isStreamPosition(position) ? position : undefined;
}

/** The messages waiting behind a fill, by offset (one per offset: the feed is in order). */
function waitingByOffset(waiting: readonly Pending[]): Map<number, Pending> {
	const byOffset = new Map<number, Pending>();
	for (const pending of waiting) {
		if (pending.position) byOffset.set(pending.position.offset, pending);
	}
	return byOffset;
}

/**
 * The conflation id of a room message that has a place in the stream and a conflation key: what a
 * newer message must match (room, name, key) to supersede it.
 */
export function conflationIdOf(room: string, message: unknown): string | undefined {
	if (!isRecord(message)) return undefined;
	const { name, conflationKey } = message;
	if (typeof conflationKey != 'string' || typeof message.offset != 'number') return undefined;
	return conflationId(room, name, conflationKey);
}

/** A room message as members get it: its frame, with what it is the latest value of. */
function preparedInRoom(room: string, message: unknown): PreparedMessage {
	return new PreparedMessage(inRoom(message, room), conflationIdOf(room, message));
}

function pendingOf(room: string, message: unknown, except: string | undefined): Pending {
	return { prepared: preparedInRoom(room, message), position: positionOf(message), except };
}

/**
 * What a replay sends of `messages` (oldest first): every message without a conflation key, and of
 * those with one only the newest per room, name and key, in stream order. The last message is
 * always among them, so the replay still ends where history does.
 */
export function conflated(
	room: string,
	messages: readonly Record<string, unknown>[]
): Record<string, unknown>[] {
	const seen = new Set<string>();
	const kept: Record<string, unknown>[] = [];
	for (let index = messages.length - 1; index >= 0; index--) {
		const message = messages[index];
		const id = conflationIdOf(room, message);
		if (id !== undefined) {
			if (seen.has(id)) continue;
			seen.add(id);
		}
		kept.push(message);
	}
	return kept.reverse();
}

/**
 * This process's members of each room, and the order of what they receive. Every room message
 * carries its place in the room's stream, so a message that arrives twice is dropped, a gap (a
 * message lost between the engine and this process, e.g. while Redis reconnected) is filled from
 * history before anything after it is delivered, and when history cannot fill it every member is
 * told the room is unrecoverable. Joins replay what a client missed with the same rule.
 *
 * A history read that fails is retried on a timer with growing delays, a bounded number of times,
 * then the room is reset: an engine that rejects at once must not be asked again in the same
 * turn, or timers and I/O never run again and its connection can never come back.
 *
 * Who is in which room is decided by `Memberships`, which calls `add` and `remove`; `replay`
 * answers a client's join once it is a member.
 *
 * A message the engine delivers (`deliver`, `#accept`), against `last`, the room's last position here:
 *
 *     (same epoch)
 *     offset <= last ........ a duplicate: dropped
 *     offset == last + 1 .... delivered to the members; last = offset
 *     offset >  last + 1 .... a gap: #startFill reads history after `last`, and what arrives
 *                             meanwhile waits behind it, in order
 *         recovered ......... the missing messages go to the members, then what waited
 *         read failed ....... read again after 100 ms, 200 ms … 2 s (#retry)
 *         not recovered, 9 reads failed, or more than 1,000 messages / 4 MiB waiting
 *                         ... every member gets `room.joined {recovered: false}` (#reset), then
 *                             what waited after the new position
 *     (another epoch)
 *     nothing sent yet ...... a gap: history tells whether the new epoch follows from offset 0
 *     else .................. the room's history was lost: #reset to just before it, then delivered
 */
export class LocalRooms {
	#rooms = new Map<string, RoomState>();
	#engine: Engine;
	#started: Promise<void>;
	#report: (error: unknown) => void;
	#metrics: ServerMetrics;

	constructor(
		engine: Engine,
		started: Promise<void>,
		report: (error: unknown) => void,
		metrics = new ServerMetrics()
	) {
		this.#engine = engine;
		this.#started = started;
		this.#report = report;
		this.#metrics = metrics;
	}

	/** Adds a member; the first one retains the room's engine subscription for this process. */
	add(connection: RoomMember, room: string): void {
		let state = this.#rooms.get(room);
		if (!state) {
			const subscribed = this.#started.then(() => this.#engine.subscribe(room));
			subscribed.catch(this.#report);
			state = {
				members: new Set(),
				subscribed,
				last: undefined,
				fill: undefined,
				joining: new Set(),
				refused: false
			};
			this.#rooms.set(room, state);
		}
		state.members.add(connection);
	}

	/** This process's members of `room`. */
	membersOf(room: string): Iterable<RoomMember> {
		return this.#rooms.get(room)?.members ?? [];
	}

	/** Removes a member; the last one releases the room's engine subscription. */
	remove(connection: RoomMember, room: string): void {
		const state = this.#rooms.get(room);
		if (!state?.members.delete(connection) || state.members.size) return;
		this.#rooms.delete(room);
		this.#stopFilling(state);
		// Also when subscribing failed: an engine may keep a failed room to subscribe it later.
		const unsubscribe = () => this.#engine.unsubscribe(room);
		state.subscribed.then(unsubscribe, unsubscribe).catch(this.#report);
	}

	/*
	 * A join with `since`, as `Memberships.joinAndReplay` runs it:
	 *
	 *     add(member) ............. the first member subscribes the room in the engine
	 *     startReplay ............. from now on the connection buffers the room's live messages
	 *     await subscribed
	 *     history(room, since) .... { recovered, position, messages after since }
	 *     send room.joined ........ { room, ...position, recovered }
	 *     send replayed ........... messages, oldest first
	 *     endReplay(replayedUpTo) . sends what was buffered past the last replayed position
	 *                               (same epoch); what the replay covered is not sent twice
	 *
	 * History cannot cover the gap (`since` is older than what the room keeps, or of another
	 * epoch): `recovered: false` at the room's position now, nothing replayed, and only what was
	 * buffered after that position is sent. The engine fails: `recovered: false` at no position
	 * (offset 0, no epoch), and everything buffered is sent (in a room the engine refused: an
	 * `error`, and the member leaves it).
	 */

	/**
	 * Answers the join of `connection`, a member of `room` now, with `room.joined`: the room's
	 * position, and whether what followed `since` was replayed (it follows the answer, then the live
	 * messages buffered meanwhile, without duplicates). When the engine cannot answer (Redis is
	 * down), the member stays in the room, whose live messages resume with the engine, and is told
	 * the room is unrecoverable: what it missed cannot be known, let alone replayed.
	 */
	async replay(
		connection: RoomMember,
		room: string,
		since: StreamPosition | undefined,
		id: number | undefined
	): Promise<void> {
		connection.startReplay(room);
		const state = this.#rooms.get(room);
		// Still in a room the engine refused (its earlier join is being answered): refused again.
		if (!state) return this.#refuseMember(connection, room, id);
		state.joining.add(connection);
		try {
			await state.subscribed;
			const { recovered, position, messages } = await this.#engine.history(room, since);
			if (!connection.joinedRooms.has(room)) return this.#leftBeforeAnswer(connection, room, id);
			state.last ??= position;
			const answer = { room, ...position, recovered: since ? recovered : true };
			if (since) this.#countJoin(recovered, messages.length);
			connection.sendReserved(JOINED_MESSAGE, answer, id);
			const replayed = conflated(room, messages);
			connection.conflated(messages.length - replayed.length);
			for (const message of replayed) connection.sendPrepared(preparedInRoom(room, message));
			const replayedUpTo = positionOf(messages.at(-1)) ?? (since && recovered ? since : position);
			connection.endReplay(room, replayedUpTo);
		} catch (error) {
			this.#report(error);
			if (!connection.joinedRooms.has(room)) return this.#leftBeforeAnswer(connection, room, id);
			if (state.refused) return this.#refuseMember(connection, room, id);
			this.#metrics.unrecoverableAtJoin++;
			// No position is known: the client accepts whatever comes next, in whichever epoch.
			connection.sendReserved(JOINED_MESSAGE, { room, ...UNKNOWN_POSITION, recovered: false }, id);
			connection.endReplay(room);
		} finally {
			state.joining.delete(connection);
		}
	}

	/**
	 * The engine gave `room` up (e.g. Redis refuses its channel): no message of it reaches this
	 * process, so its members are told (an `error` naming the room; a pending join is answered with
	 * it) and dropped from it. The next join subscribes again.
	 */
	refused(room: string): void {
		const state = this.#rooms.get(room);
		if (!state) return;
		state.refused = true;
		this.#rooms.delete(room);
		this.#stopFilling(state);
		for (const member of [...state.members]) {
			if (!state.joining.has(member)) this.#refuseMember(member, room, undefined);
		}
	}

	/**
	 * The connection left `room` while its join was being answered: a join sent as a request still
	 * gets its one answer (PROTOCOL.md), a `forbidden` one, since it is not in the room.
	 */
	#leftBeforeAnswer(member: RoomMember, room: string, id: number | undefined): void {
		if (id === undefined) return;
		const message = 'The room was left before its join was answered';
		member.sendReserved(ERROR_MESSAGE, { code: ErrorCode.Forbidden, message, room }, id);
	}

	#refuseMember(member: RoomMember, room: string, id: number | undefined): void {
		member.sendReserved(ERROR_MESSAGE, unavailable(room), id);
		member.leaveRoom(room);
	}

	#countJoin(recovered: boolean, replayed: number): void {
		const metrics = this.#metrics;
		if (!recovered) return void metrics.unrecoverableAtJoin++;
		metrics.replays++;
		metrics.replayedMessages += replayed;
	}

	/** Delivers a message the engine delivered to the room's members here, in stream order. */
	deliver(room: string, message: unknown, except?: string): void {
		const state = this.#rooms.get(room);
		if (state) this.#offer(room, state, pendingOf(room, message, except));
	}

	/** The engine's feed was interrupted: check every room for messages this process missed. */
	resync(): void {
		for (const [room, state] of this.#rooms) {
			if (state.last && !state.fill) this.#startFill(room, state, []);
		}
	}

	/** Delivers `pending` now, or lets it wait behind a gap being filled. */
	#offer(room: string, state: RoomState, pending: Pending): void {
		const fill = state.fill;
		if (!fill) return this.#accept(room, state, pending);
		fill.waiting.push(pending);
		fill.waitingBytes += pending.prepared.byteLength;
		if (fill.waiting.length > MAX_WAITING || fill.waitingBytes > MAX_WAITING_BYTES) {
			this.#giveUp(room, state, fill);
		}
	}

	#accept(room: string, state: RoomState, pending: Pending): void {
		const { position } = pending;
		const last = state.last;
		if (position && last && position.epoch == last.epoch) {
			if (position.offset <= last.offset) return;
			if (position.offset > last.offset + 1) return this.#startFill(room, state, [pending]);
		} else if (position && last) {
			// Nothing delivered yet (a room read before its first publish is at offset 0 of no epoch
			// of its own): the engine's history tells whether this epoch follows from there.
			if (!last.offset) return this.#startFill(room, state, [pending]);
			// A new epoch: the room's history was lost, so whatever came in between is gone for good.
			this.#reset(state, room, { offset: position.offset - 1, epoch: position.epoch });
		}
		this.#deliverToMembers(room, state, pending);
	}

	#deliverToMembers(room: string, state: RoomState, { prepared, position, except }: Pending): void {
		if (position) state.last = position;
		for (const member of state.members) {
			if (member.authenticated && member.id != except) {
				member.deliverToRoom(room, prepared, position);
			}
		}
	}

	/** Fetches what followed `state.last`; deliveries wait meanwhile, then go on in order. */
	#startFill(room: string, state: RoomState, waiting: Pending[]): void {
		const waitingBytes = waiting.reduce((sum, pending) => sum + pending.prepared.byteLength, 0);
		const fill: Fill = { waiting, waitingBytes, failures: 0, timer: undefined };
		state.fill = fill;
		this.#read(room, state, fill).catch(this.#report);
	}

	async #read(room: string, state: RoomState, fill: Fill): Promise<void> {
		fill.timer = undefined;
		let history: HistoryResult;
		try {
			history = await this.#engine.history(room, state.last, { delivered: true });
		} catch (error) {
			if (state.fill !== fill) return;
			this.#report(error);
			return this.#retry(room, state, fill);
		}
		// The room was reset or left meanwhile: this answer is of no use any more.
		if (state.fill !== fill) return;
		if (!history.recovered) {
			this.#reset(state, room, history.position);
		} else {
			const waiting = waitingByOffset(fill.waiting);
			for (const message of history.messages) {
				const position = positionOf(message);
				const last = state.last;
				const seen =
					position && last && position.epoch == last.epoch && position.offset <= last.offset;
				if (seen) continue;
				// History keeps no `except`: the message that waited for this fill has it.
				const waited = position && waiting.get(position.offset);
				const same = waited && waited.position!.epoch == position.epoch;
				this.#deliverToMembers(room, state, same ? waited : pendingOf(room, message, undefined));
			}
		}
		// History read before a message the feed already delivered can stop short of it: try again
		// later rather than right away, or an engine that answers at once would be asked in a loop.
		if (this.#gapBefore(state, fill.waiting)) return this.#retry(room, state, fill);
		this.#finish(room, state, fill);
	}

	/** Whether the first waiting message with a position still skips ahead of `state.last`. */
	#gapBefore(state: RoomState, waiting: readonly Pending[]): boolean {
		const last = state.last;
		for (const { position } of waiting) {
			if (!position) continue;
			if (!last) return false;
			// After offset 0, another epoch follows only through history.
			if (position.epoch != last.epoch) return !last.offset;
			if (position.offset <= last.offset) continue;
			return position.offset > last.offset + 1;
		}
		return false;
	}

	#retry(room: string, state: RoomState, fill: Fill): void {
		fill.failures++;
		if (fill.failures >= FILL_ATTEMPTS) return this.#giveUp(room, state, fill);
		const delay = Math.min(FILL_RETRY_FIRST_MS * 2 ** (fill.failures - 1), FILL_RETRY_MAX_MS);
		fill.timer = setTimeout(() => this.#read(room, state, fill).catch(this.#report), delay);
		fill.timer.unref?.();
	}

	/**
	 * History cannot fill the gap: the room is reset to just before the first message that waited
	 * (its members continue from there), or, when none waited, to no position at all (they accept
	 * whatever comes next).
	 */
	#giveUp(room: string, state: RoomState, fill: Fill): void {
		const first = fill.waiting.find((pending) => pending.position)?.position;
		if (first) {
			this.#reset(state, room, { offset: first.offset - 1, epoch: first.epoch });
		} else {
			this.#reset(state, room, UNKNOWN_POSITION);
			state.last = undefined;
		}
		this.#finish(room, state, fill);
	}

	/** Ends `fill` and delivers what waited behind it, in order (a later gap starts a new fill). */
	#finish(room: string, state: RoomState, fill: Fill): void {
		this.#stopFilling(state);
		for (const pending of fill.waiting) this.#offer(room, state, pending);
	}

	#stopFilling(state: RoomState): void {
		clearTimeout(state.fill?.timer);
		state.fill = undefined;
	}

	/** Tells every member the room cannot be replayed up to `position`: they continue from there. */
	#reset(state: RoomState, room: string, position: StreamPosition): void {
		state.last = position;
		this.#metrics.unrecoverableWhileStreaming++;
		for (const member of state.members) {
			member.sendReserved(JOINED_MESSAGE, { room, ...position, recovered: false });
		}
	}
}
