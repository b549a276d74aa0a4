import type { EngineUserSlots } from '../../engine/engine.js';
import { withDeadline } from '../../engine/errors.js';
import { MemoryUserSlots } from '../../engine/memory-user-slots.js';
import { POLICY_VIOLATION, TOO_MANY_USER_CONNECTIONS } from '../../protocol/close-codes.js';
import { CALLBACK_TIMEOUT_MS, contain } from '../callbacks.js';
import type { Connection } from '../connection.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { Session } from './session.js';

/** Frames a connection may send while its slot is claimed (as many as while its token is verified)… */
const MAX_FRAMES_WHILE_CLAIMING = 100;
/** …and their UTF-16 units: 100 waiting connections must not hold 100 full-size frames each. */
const MAX_UNITS_WHILE_CLAIMING = 256 * 1024;

/**
 * One connection's slot: its key, whether the engine answered (and took one), whether the
 * connection closed meanwhile, and the frames that came while the engine was asked.
 */
interface Claim {
	readonly key: string;
	readonly userId: string;
	readonly session: Session;
	taken: boolean | undefined;
	released: boolean;
	frames: string[] | undefined;
	/** The length of those frames together. */
	held: number;
}

/** The slot key of `userId` on the route at `path`: unambiguous whatever either contains. */
export function userSlotKey(path: string, userId: string): string {
	return JSON.stringify([path, userId]);
}

/**
 * `maxConnectionsPerUser`: a connection of a route with a limit and of a user takes one of the
 * user's slots on that route (the engine's, so across processes; this process's own count when
 * the engine keeps none) right after it authenticated, before it is greeted. The one past the
 * limit is closed with 4005; no open connection is ever closed to make room. Frames that arrive
 * while the engine is asked wait, in order. An engine that fails or takes longer than 5 s to answer
 * admits the connection (reported): the limit is not enforced while the engine cannot count.
 */
export class UserLimit {
	readonly #slots: EngineUserSlots;
	readonly #metrics: ServerMetrics;
	readonly #claims = new Map<Connection<unknown>, Claim>();

	constructor(slots: EngineUserSlots | undefined, metrics: ServerMetrics) {
		this.#slots = slots ?? new MemoryUserSlots();
		this.#metrics = metrics;
	}

	/**
	 * Claims the session's slot when its route has a limit and `authData` names a user, then calls
	 * `greet` with the frames that arrived meanwhile (at once when there is nothing to wait for), or
	 * closes it with 4005.
	 */
	admit(session: Session, authData: unknown, greet: (frames: readonly string[]) => void): void {
		const { connection, route } = session;
		const max = route.options.maxConnectionsPerUser;
		const userId = max === undefined ? undefined : route.userIdOf(connection, authData);
		if (max === undefined || userId === undefined) return greet([]);
		const key = userSlotKey(route.options.path, userId);
		const claim: Claim = {
			key,
			userId,
			session,
			taken: undefined,
			released: false,
			frames: [],
			held: 0
		};
		this.#claims.set(connection, claim);
		let answer: boolean | Promise<boolean>;
		try {
			answer = this.#slots.claim(key, connection.id, max);
		} catch (error) {
			answer = Promise.reject(error);
		}
		if (typeof answer == 'boolean') return this.#decide(claim, answer, greet);
		withDeadline(answer, CALLBACK_TIMEOUT_MS, "the engine's userSlots.claim")
			.catch((error: unknown) => {
				connection.report(error);
				return true;
			})
			.then((taken) => this.#decide(claim, taken !== false, greet))
			.catch((error: unknown) => connection.report(error));
	}

	/**
	 * Queues a frame of a session whose slot is being claimed; false when it is not waiting (the
	 * frame is for the dispatcher). Too many close it with 1008.
	 */
	hold(session: Session, frame: string): boolean {
		const claim = this.#claims.get(session.connection);
		if (!claim?.frames) return false;
		claim.held += frame.length;
		if (claim.frames.length >= MAX_FRAMES_WHILE_CLAIMING || claim.held > MAX_UNITS_WHILE_CLAIMING) {
			session.close(POLICY_VIOLATION, 'Too many messages before authentication');
		} else claim.frames.push(frame);
		return true;
	}

	/** The sessions of `userId` whose slot is being claimed: not greeted yet, but theirs. */
	*claiming(userId: string): Iterable<Session> {
		for (const claim of this.#claims.values()) {
			if (claim.frames && claim.userId === userId) yield claim.session;
		}
	}

	/** The connection closed: its slot is given back (once the engine answered, if it was asked). */
	release(connection: Connection<unknown>): void {
		const claim = this.#claims.get(connection);
		if (!claim) return;
		this.#claims.delete(connection);
		claim.released = true;
		claim.frames = undefined;
		if (claim.taken) this.#giveBack(claim, connection);
	}

	#decide(claim: Claim, taken: boolean, greet: (frames: readonly string[]) => void): void {
		const { connection, route } = claim.session;
		const frames = claim.frames ?? [];
		claim.taken = taken;
		claim.frames = undefined;
		// Closed while the engine was asked: the slot it took goes back.
		if (claim.released) return void (taken && this.#giveBack(claim, connection));
		if (!connection.isOpen) return;
		if (taken) return greet(frames);
		this.#claims.delete(connection);
		this.#metrics.userConnectionRefused(route.options.path);
		claim.session.close(TOO_MANY_USER_CONNECTIONS, 'Too many connections for this user');
	}

	#giveBack(claim: Claim, connection: Connection<unknown>): void {
		contain(
			() => this.#slots.release(claim.key, connection.id),
			(error) => connection.report(error)
		);
	}
}
