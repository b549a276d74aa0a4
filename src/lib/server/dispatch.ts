import {
	AUTH_MESSAGE,
	CONNECTED_MESSAGE,
	ERROR_MESSAGE,
	isRecord,
	JOIN_MESSAGE,
	JOINED_MESSAGE,
	LEAVE_MESSAGE,
	PING_FRAME,
	PONG_FRAME,
	REPLY_MESSAGE,
	ReservedName
} from '../protocol/envelope.js';
import { ErrorCode } from '../protocol/error-codes.js';
import { PRESENCE_DIFF, PRESENCE_GET, PRESENCE_STATE } from '../protocol/presence.js';
import { describeIssues, validateMessage, type MessageDefinition } from '../protocol/message.js';
import { safeJsonParse } from '../protocol/safe-json.js';
import type { StandardResult } from '../protocol/standard-schema.js';
import { contain } from './callbacks.js';
import type { Connection } from './connection.js';
import { PreparedMessage } from './outbound.js';
import type { PresenceRooms } from './presence.js';
import type { RoomRequests } from './room-requests.js';
import type { Session } from './session.js';

/**
 * How a typed handler answers a request: call it with the reply data, or `reply.error(code, message)`.
 * For a message that is not a request (no `id`), answering does nothing.
 *
 * @example
 * ```ts
 * server.on(CreateIncident, async (connection, data, reply) => reply(await incidents.create(data)));
 * ```
 */
export interface Reply {
	(data?: unknown): void;
	error(code: string, message: string): void;
	/** Whether an answer was sent. */
	readonly sent: boolean;
}

/**
 * A typed message handler: the connection, the validated data, and `reply` for requests.
 *
 * @example
 * ```ts
 * const handler: MessageHandler<{ title: string }> = (connection, { title }, reply) => reply({ ok: true });
 * ```
 */
export type MessageHandler<Data> = (
	connection: Connection<unknown>,
	data: Data,
	reply: Reply
) => void | Promise<void>;

/** The handlers of one message name, by definition (each definition validates with its own schema). */
type HandlersByDefinition = Map<MessageDefinition<unknown>, Set<MessageHandler<unknown>>>;

/** What a reserved message does when a client sends it. */
type ReservedHandler = (session: Session, data: unknown, id: number | undefined) => void;

/** The heartbeat answers, prepared once: a burst of pings costs no allocation per ping. */
const PONG = new PreparedMessage(PONG_FRAME);
const TYPED_PONG = new PreparedMessage({ type: 'pong' });

/** How much of an unknown name an error echoes back: the client sent it, it need not get it all again. */
const ECHOED_NAME_LENGTH = 64;

/**
 * Where an authenticated connection's frames go: heartbeats are answered, reserved names go through
 * one table (auth, room requests, and names only the server sends), typed handlers validate first,
 * and whatever is left goes to the route's `onMessage` or is answered `unknown_message`.
 *
 * @example
 * ```ts
 * const dispatcher = new Dispatcher(roomRequests, presence, report);
 * dispatcher.on(Chat, (connection, data) => console.log(data));
 * dispatcher.dispatch(session, '{"name":"chat","data":"hi"}');
 * ```
 */
export class Dispatcher {
	#handlers = new Map<string, HandlersByDefinition>();
	#reserved: Map<string, ReservedHandler>;
	#report: (connection: Connection<unknown>, error: unknown) => void;

	constructor(
		roomRequests: RoomRequests,
		presence: PresenceRooms,
		report: (connection: Connection<unknown>, error: unknown) => void
	) {
		this.#report = report;
		const serverOnly: ReservedHandler = ({ connection }, _data, id) =>
			void connection.fail(ErrorCode.Malformed, 'Only the server sends this message', id);
		this.#reserved = new Map<string, ReservedHandler>([
			[AUTH_MESSAGE, () => {}], // a token sent again after authentication: nothing to do
			[JOIN_MESSAGE, (session, data, id) => roomRequests.join(session, data, id)],
			[LEAVE_MESSAGE, (session, data, id) => roomRequests.leave(session, data, id)],
			[CONNECTED_MESSAGE, serverOnly],
			[JOINED_MESSAGE, serverOnly],
			[REPLY_MESSAGE, serverOnly],
			[ERROR_MESSAGE, serverOnly],
			[PRESENCE_GET, ({ connection }, data, id) => presence.get(connection, data, id)],
			[PRESENCE_STATE, serverOnly],
			[PRESENCE_DIFF, serverOnly]
		]);
	}

	/**
	 * Adds a handler for one message, as the client's `on` does: several handlers of a name all run
	 * (in the order they were added) and share one `reply`. Returns the function that removes it.
	 */
	on<Data>(definition: MessageDefinition<Data>, handler: MessageHandler<Data>): () => void {
		if (typeof definition?.name != 'string' || typeof handler != 'function') {
			throw new TypeError('server.on() needs a message definition and a handler');
		}
		const { name } = definition;
		if (this.#reserved.has(name)) throw new TypeError(`"${name}" is reserved by the protocol`);
		let byDefinition = this.#handlers.get(name);
		if (!byDefinition) this.#handlers.set(name, (byDefinition = new Map()));
		let handlers = byDefinition.get(definition);
		if (!handlers) byDefinition.set(definition, (handlers = new Set()));
		handlers.add(handler as MessageHandler<unknown>);
		return () => {
			handlers.delete(handler as MessageHandler<unknown>);
			if (handlers.size || byDefinition.get(definition) != handlers) return;
			byDefinition.delete(definition);
			if (!byDefinition.size && this.#handlers.get(name) == byDefinition)
				this.#handlers.delete(name);
		};
	}

	/** One text frame of an authenticated connection, already admitted by its rate limit. */
	dispatch(session: Session, frame: string): void {
		const { connection } = session;
		if (frame == PING_FRAME) return void connection.deliver(PONG);
		let message: unknown;
		try {
			message = safeJsonParse(frame);
		} catch {
			return void connection.fail(ErrorCode.Malformed, 'Malformed JSON');
		}
		if (isRecord(message) && message.type == 'ping' && message.name === undefined) {
			return void connection.deliver(TYPED_PONG);
		}
		const id =
			isRecord(message) && Number.isFinite(message.id) ? (message.id as number) : undefined;
		if (!isRecord(message) || typeof message.name != 'string') {
			return void connection.fail(ErrorCode.Malformed, 'Expected {"name": string, "data": …}', id);
		}
		const { name, data } = message;
		const reserved = this.#reserved.get(name);
		if (reserved) return reserved(session, data, id);
		const byDefinition = this.#handlers.get(name);
		if (byDefinition) {
			return void this.#handle(connection, [...byDefinition], data, id).catch((error) =>
				this.#report(connection, error)
			);
		}
		const { onMessage } = session.route.options;
		if (onMessage) {
			return contain(
				() => onMessage(connection, { name, data, id }),
				(error) => {
					this.#report(connection, error);
					if (id !== undefined) connection.fail(ErrorCode.Internal, 'Internal error', id);
				}
			);
		}
		const echoed =
			name.length > ECHOED_NAME_LENGTH ? `${name.slice(0, ECHOED_NAME_LENGTH)}…` : name;
		connection.fail(ErrorCode.UnknownMessage, `Unknown message "${echoed}"`, id);
	}

	/**
	 * Validates with each definition of the name, then runs its handlers; a schema or handler that
	 * throws is answered `internal_error` (once: every handler of the message shares its `reply`).
	 */
	async #handle(
		connection: Connection<unknown>,
		definitions: [MessageDefinition<unknown>, Set<MessageHandler<unknown>>][],
		data: unknown,
		id: number | undefined
	): Promise<void> {
		const reply = createReply(connection, id);
		const failed = (error: unknown) => {
			this.#report(connection, error);
			if (!reply.sent) reply.error(ErrorCode.Internal, 'Internal error');
		};
		let refused = false;
		for (const [definition, handlers] of definitions) {
			const { name } = definition;
			let result: StandardResult<unknown>;
			try {
				result = await validateMessage(definition, data);
				if (!isRecord(result)) throw new TypeError(`The schema of "${name}" gave no result`);
			} catch (error) {
				failed(error);
				continue;
			}
			if (result.issues) {
				if (!refused) {
					const invalid = `Invalid "${name}": ${describeIssues(result.issues)}`;
					connection.fail(ErrorCode.InvalidData, invalid, id);
				}
				refused = true;
				continue;
			}
			const { value } = result;
			await Promise.all(
				[...handlers].map(async (handler) => {
					try {
						await handler(connection, value, reply);
					} catch (error) {
						failed(error);
					}
				})
			);
		}
	}
}

/** The `reply` of one request: answers once, under the request's id; nothing without an id. */
function createReply(connection: Connection<unknown>, id: number | undefined): Reply {
	let sent = false;
	const answer = (name: string, data: unknown) => {
		if (sent || id === undefined) return;
		// Marked only once sent: a reply that cannot be serialised throws, and the request is then
		// answered internal_error instead of never.
		connection.sendReserved(name, data, id);
		sent = true;
	};
	const reply = (data?: unknown) => answer(ReservedName.Reply, data ?? null);
	reply.error = (code: string, message: string) => answer(ReservedName.Error, { code, message });
	Object.defineProperty(reply, 'sent', { get: () => sent });
	return reply as Reply;
}
