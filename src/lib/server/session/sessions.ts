import { GOING_AWAY, INTERNAL_ERROR } from '../../protocol/close-codes.js';
import { CONNECTED_MESSAGE, REPLY_MESSAGE } from '../../protocol/envelope.js';
import { Connection } from '../connection.js';
import type { ServerMetrics } from '../metrics/metrics.js';
import type { Rooms } from '../rooms/rooms.js';
import type { AcceptedUpgrade } from '../upgrade/upgrade-gate.js';
import { contain } from '../callbacks.js';
import type { Dispatcher } from './dispatch.js';
import { recheckRooms } from './room-recheck.js';
import { Session, type SessionHandlers } from './session.js';
import type { UserLimit } from './user-limit.js';

/**
 * Every connection's life on this process, from an accepted upgrade to its close: it makes the
 * connection and its session, greets the connection once it is authenticated (`connected`,
 * `onConnect`), hands its frames to the dispatcher, and on close takes it out of its rooms and runs
 * `onClose`.
 */
export class Sessions {
	#connections: Set<Connection<unknown>>;
	#metrics: ServerMetrics;
	#rooms: Rooms;
	#dispatcher: Dispatcher;
	/** `maxConnectionsPerUser`: a connection's slot is claimed before it is greeted. */
	#userLimit: UserLimit;

	constructor(
		connections: Set<Connection<unknown>>,
		metrics: ServerMetrics,
		rooms: Rooms,
		dispatcher: Dispatcher,
		userLimit: UserLimit
	) {
		this.#connections = connections;
		this.#metrics = metrics;
		this.#rooms = rooms;
		this.#dispatcher = dispatcher;
		this.#userLimit = userLimit;
	}

	/** Makes the connection and session of an upgrade that passed the gate, and starts the session. */
	accept({ route, transport, request, params, authData, expiresAt }: AcceptedUpgrade): void {
		const { memberships, publisher } = this.#rooms;
		const connection = new Connection<unknown>(
			transport,
			request,
			params,
			route,
			memberships,
			publisher
		);
		const session = new Session(connection, route, this.#handlers);
		this.#connections.add(connection);
		route.connections.add(connection);
		this.#metrics.connectionOpened(route.options.path);
		transport.listen(session);
		session.start(authData, expiresAt);
	}

	/**
	 * Closes every connection with 1001 (after what is queued for it was sent) and resolves once they
	 * are gone; a connection drops a peer that does not answer its close within 3 s.
	 */
	async closeAll(): Promise<void> {
		await Promise.all(
			[...this.#connections].map((connection) => {
				connection.close(GOING_AWAY, 'Server shutting down');
				return connection.closed;
			})
		);
	}

	/** What every session calls back. */
	#handlers: SessionHandlers = {
		ready: (session, authData, expiresAt) => this.#ready(session, authData, expiresAt),
		dispatch: (session, frame) => {
			if (!this.#userLimit.hold(session, frame)) this.#dispatcher.dispatch(session, frame);
		},
		report: (connection, error) => connection.report(error),
		closed: (session, code, reason) => this.#closed(session, code, reason),
		renewed: ({ connection, route }) =>
			void recheckRooms(connection, route, this.#rooms.memberships).catch((error) =>
				connection.report(error)
			)
	};

	/** Authenticated: greeted once its user's slot is claimed (`maxConnectionsPerUser`). */
	#ready(session: Session, authData: unknown, expiresAt: number | undefined): void {
		this.#userLimit.admit(session, authData, (frames) => {
			this.#greet(session, authData);
			session.expireAt(expiresAt);
			for (const frame of frames) {
				if (!session.connection.isOpen) return;
				this.#dispatcher.dispatch(session, frame);
			}
		});
	}

	#greet(session: Session, authData: unknown): void {
		const { connection, route } = session;
		connection.authenticate(authData);
		let shown: Record<string, unknown> | undefined;
		try {
			shown = route.options.connectedData?.(connection);
		} catch (error) {
			connection.report(error);
			return session.close(INTERNAL_ERROR, 'Could not prepare the connection');
		}
		connection.sendReserved(CONNECTED_MESSAGE, { ...shown, id: connection.id });
		// A first-frame `auth` sent as a request is answered after `connected`, as PROTOCOL.md says,
		// also when the greeting waited for the user's slot.
		if (session.authRequestId !== undefined) {
			connection.sendReserved(REPLY_MESSAGE, null, session.authRequestId);
		}
		contain(
			() => route.options.onConnect?.(connection),
			(error) => connection.report(error)
		);
	}

	#closed(session: Session, code: number, reason: string): void {
		const { connection, route } = session;
		session.end();
		this.#userLimit.release(connection);
		this.#rooms.memberships.leaveAll(connection, code);
		this.#connections.delete(connection);
		route.connections.delete(connection);
		const decided = connection.closeCodeDecided;
		this.#metrics.connectionClosed(decided ?? code, decided !== undefined);
		if (connection.authenticated) {
			contain(
				() => route.options.onClose?.(connection, code, reason),
				(error) => connection.report(error)
			);
		}
	}
}
