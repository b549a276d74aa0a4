import { isRecord, JOINED_MESSAGE, type StreamPosition } from '../protocol/envelope.js';
import type { Connection } from './connection.js';
import { isStreamPosition, type Engine } from './engine.js';
import { PreparedMessage } from './outbound.js';

/** A room message waiting while the room's missing history is fetched. */
interface Pending {
	message: unknown;
	except: string | undefined;
}

interface RoomState {
	members: Set<Connection<unknown>>;
	/** Settles once this process receives the room's messages from the engine. */
	subscribed: Promise<void>;
	/** The last message this process delivered to the room: where a gap would start. */
	last: StreamPosition | undefined;
	/** Set while missing history is being fetched: later deliveries wait here, in order. */
	waiting: Pending[] | undefined;
}

/**
 * A room message as its members get it: named after its room, whoever published it (a typed
 * `publish`, a raw `broadcast`, another process's engine), so clients can track where they are.
 */
function inRoom(message: unknown, room: string): unknown {
	return isRecord(message) && message.room != room ? { ...message, room } : message;
}

function positionOf(message: unknown): StreamPosition | undefined {
	if (!isRecord(message)) return undefined;
	const position = { offset: message.offset, epoch: message.epoch };
	return isStreamPosition(position) ? position : undefined;
}

/**
 * This process's members of each room, and the order of what they receive. Every room message
 * carries its place in the room's stream, so a message that arrives twice is dropped, a gap (a
 * message lost between the engine and this process, e.g. while Redis reconnected) is filled from
 * history before anything after it is delivered, and when history cannot fill it every member is
 * told the room is unrecoverable. Joins replay what a client missed with the same rule.
 *
 * @example
 * ```ts
 * const rooms = new LocalRooms(engine, started, report);
 * rooms.add(connection, 'project:1');
 * rooms.deliver('project:1', { name: 'task', data: 1, timestamp: 0, offset: 7, epoch: 'e' });
 * ```
 */
export class LocalRooms {
	#rooms = new Map<string, RoomState>();
	#engine: Engine;
	#started: Promise<void>;
	#report: (error: unknown) => void;

	constructor(engine: Engine, started: Promise<void>, report: (error: unknown) => void) {
		this.#engine = engine;
		this.#started = started;
		this.#report = report;
	}

	/** Adds a member; the first one subscribes this process to the room. */
	add(connection: Connection<unknown>, room: string): void {
		let state = this.#rooms.get(room);
		if (!state) {
			const subscribed = this.#started.then(() => this.#engine.subscribe(room));
			subscribed.catch(this.#report);
			state = { members: new Set(), subscribed, last: undefined, waiting: undefined };
			this.#rooms.set(room, state);
		}
		state.members.add(connection);
	}

	/** Removes a member; after the last one this process unsubscribes. */
	remove(connection: Connection<unknown>, room: string): void {
		const state = this.#rooms.get(room);
		if (!state?.members.delete(connection) || state.members.size) return;
		this.#rooms.delete(room);
		// Also when subscribing failed: an engine may keep a failed room to subscribe it later.
		const unsubscribe = () => this.#engine.unsubscribe(room);
		state.subscribed.then(unsubscribe, unsubscribe).catch(this.#report);
	}

	/**
	 * Joins `connection` to `room` and answers with `room.joined`: the room's position, and whether
	 * what followed `since` was replayed (it follows the answer, then the live messages held
	 * meanwhile, without duplicates). When the engine cannot answer (Redis is down), the member stays
	 * in the room, whose live messages resume with the engine, and is told the room is unrecoverable:
	 * what it missed cannot be known, let alone replayed.
	 */
	async join(
		connection: Connection<unknown>,
		room: string,
		since: StreamPosition | undefined,
		id: number | undefined
	): Promise<void> {
		connection.holdRoom(room);
		connection.joinRoom(room);
		try {
			const state = this.#rooms.get(room)!;
			await state.subscribed;
			const { recovered, position, messages } = await this.#engine.history(room, since);
			if (!connection.rooms.has(room)) return;
			state.last ??= position;
			const answer = { room, ...position, recovered: since ? recovered : true };
			connection.sendReserved(JOINED_MESSAGE, answer, id);
			for (const message of messages) {
				connection.deliver(new PreparedMessage(inRoom(message, room)));
			}
			const replayedUpTo = positionOf(messages.at(-1)) ?? (since && recovered ? since : position);
			connection.releaseRoom(room, replayedUpTo);
		} catch (error) {
			this.#report(error);
			if (!connection.rooms.has(room)) return;
			// No position is known: the client accepts whatever comes next, in whichever epoch.
			connection.sendReserved(JOINED_MESSAGE, { room, offset: 0, epoch: '', recovered: false }, id);
			connection.releaseRoom(room);
		}
	}

	/** Hands a message the engine delivered to the room's members, in stream order. */
	deliver(room: string, message: unknown, except?: string): void {
		const state = this.#rooms.get(room);
		if (!state) return;
		if (state.waiting) state.waiting.push({ message, except });
		else this.#accept(room, state, { message, except });
	}

	/** The engine's feed was interrupted: check every room for messages this process missed. */
	resync(): void {
		for (const [room, state] of this.#rooms) {
			if (state.last && !state.waiting) void this.#fill(room, state, []);
		}
	}

	#accept(room: string, state: RoomState, pending: Pending): void {
		const position = positionOf(pending.message);
		const last = state.last;
		if (position && last && position.epoch == last.epoch) {
			if (position.offset <= last.offset) return;
			if (position.offset > last.offset + 1) return void this.#fill(room, state, [pending]);
		} else if (position && last) {
			// A new epoch: the room's history was lost, so whatever came in between is gone for good.
			this.#reset(state, room, { offset: position.offset - 1, epoch: position.epoch });
		}
		if (position) state.last = position;
		const prepared = new PreparedMessage(inRoom(pending.message, room));
		for (const member of state.members) {
			if (member.authenticated && member.id != pending.except) {
				member.deliverToRoom(room, prepared, position);
			}
		}
	}

	/** Fetches what followed `state.last`; deliveries wait meanwhile, then go on in order. */
	async #fill(room: string, state: RoomState, waiting: Pending[]): Promise<void> {
		state.waiting = waiting;
		try {
			const history = await this.#engine.history(room, state.last);
			if (history.recovered) {
				for (const message of history.messages)
					this.#accept(room, state, { message, except: undefined });
			} else {
				this.#reset(state, room, history.position);
			}
		} catch (error) {
			this.#report(error);
		}
		const queued = state.waiting ?? [];
		state.waiting = undefined;
		for (const pending of queued) this.deliver(room, pending.message, pending.except);
	}

	/** Tells every member the room cannot be replayed up to `position`: they continue from there. */
	#reset(state: RoomState, room: string, position: StreamPosition): void {
		state.last = position;
		for (const member of state.members) {
			member.sendReserved(JOINED_MESSAGE, { room, ...position, recovered: false });
		}
	}
}
