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
	READ_REPORT_PREFIX,
	REPLY_MESSAGE
} from '../../protocol/envelope.js';
import { ErrorCode } from '../../protocol/error-codes.js';
import { PRESENCE_DIFF, PRESENCE_GET, PRESENCE_STATE } from '../../protocol/presence.js';
import { describeIssues, validateMessage, type MessageDefinition } from '../../protocol/message.js';
import { safeJsonParse } from '../../protocol/safe-json.js';
import { contain } from '../callbacks.js';
import { requestedKey, requestIdOf, shownName } from './client-input.js';
import type { Connection } from '../connection.js';
import { HandledRequest, type AnswerKeeper } from './handled-request.js';
import type { Reply } from './reply.js';
import { PreparedMessage } from '../transport/prepared-message.js';
import type { Rooms } from '../rooms/rooms.js';
import type { RequestKeys } from './request-keys.js';
import { RoomRequests } from './room-requests.js';
import type { Session } from './session.js';

export type { Reply } from './reply.js';

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

/** A message handed to application handlers: its connection, and the request its handlers answer. */
interface Handling {
	readonly connection: Connection<unknown>;
	readonly request: HandledRequest;
}

/** Hands a message to its application handlers (typed, or the route's `onMessage`). */
type Runner = (handling: Handling) => void;

/** What a reserved message does when a client sends it: every one takes the session that sent it. */
type ReservedHandler = (session: Session, data: unknown, id: number | undefined) => void;

/** The heartbeat answers, prepared once: a burst of pings costs no allocation per ping. */
const PONG = new PreparedMessage(PONG_FRAME);
const TYPED_PONG = new PreparedMessage({ type: 'pong' });

/**
 * Where an authenticated connection's frames go: heartbeats are answered, reserved names go through
 * one table (auth, room requests, and names only the server sends), typed handlers validate first,
 * and whatever is left goes to the route's `onMessage` or is answered `unknown_message`.
 */
export class Dispatcher {
	#handlers = new Map<string, HandlersByDefinition>();
	#reserved: Map<string, ReservedHandler>;
	#keys: RequestKeys;

	constructor({ memberships, presence }: Rooms, keys: RequestKeys) {
		this.#keys = keys;
		const roomRequests = new RoomRequests(memberships);
		const serverOnly: ReservedHandler = ({ connection }, _data, id) =>
			void connection.fail(ErrorCode.Malformed, 'Only the server sends this message', id);
		this.#reserved = new Map<string, ReservedHandler>([
			// A token on the open connection is a refreshed one (PROTOCOL.md, "Token refresh").
			[AUTH_MESSAGE, (session, data, id) => session.renew(data, id)],
			[JOIN_MESSAGE, (session, data, id) => roomRequests.join(session, data, id)],
			[LEAVE_MESSAGE, (session, data, id) => roomRequests.leave(session, data, id)],
			[CONNECTED_MESSAGE, serverOnly],
			[JOINED_MESSAGE, serverOnly],
			[REPLY_MESSAGE, serverOnly],
			[ERROR_MESSAGE, serverOnly],
			[PRESENCE_GET, (session, data, id) => presence.get(session, data, id)],
			[PRESENCE_STATE, serverOnly],
			[PRESENCE_DIFF, serverOnly]
		]);
	}

	/**
	 * Adds a handler for one message, as the client's `on` does: several handlers of a name all run
	 * (in the order they were added) and share one `reply`; when one definition of the name refuses
	 * the data, none runs. Returns the function that removes it.
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
		if (frame == PING_FRAME) return void connection.sendPrepared(PONG);
		if (frame.startsWith(READ_REPORT_PREFIX)) return connection.reportRead(frame);
		let message: unknown;
		try {
			message = safeJsonParse(frame);
		} catch {
			return void connection.fail(ErrorCode.Malformed, 'Malformed JSON');
		}
		if (isRecord(message) && message.type == 'ping' && message.name === undefined) {
			return void connection.sendPrepared(TYPED_PONG);
		}
		const id = requestIdOf(message);
		if (!isRecord(message) || typeof message.name != 'string') {
			return void connection.fail(ErrorCode.Malformed, 'Expected {"name": string, "data": …}', id);
		}
		const { name, data } = message;
		const reserved = this.#reserved.get(name);
		if (reserved) return reserved(session, data, id);
		const key = requestedKey(session, message, id);
		if (key === false) return;
		const run = this.#runner(session, name, data, id);
		if (!run) {
			return void connection.fail(
				ErrorCode.UnknownMessage,
				`Unknown message "${shownName(name)}"`,
				id
			);
		}
		const keyed = key === undefined ? undefined : this.#keys.keyed(session, key);
		const handling = this.#handling(session, name, id, keyed);
		if (keyed) keyed.begin(handling.request, () => run(handling));
		else run(handling);
	}

	/** What runs a message's handlers: its typed handlers, else the route's `onMessage`, else none. */
	#runner(
		session: Session,
		name: string,
		data: unknown,
		id: number | undefined
	): Runner | undefined {
		const byDefinition = this.#handlers.get(name);
		if (byDefinition) {
			const definitions = [...byDefinition];
			return (handling) =>
				void this.#handle(handling, definitions, data).catch((error) =>
					this.#failed(handling, error)
				);
		}
		const { onMessage } = session.route.options;
		if (!onMessage) return undefined;
		return (handling) =>
			contain(
				() => onMessage(handling.connection, { name, data, id }, handling.request.reply),
				(error) => this.#failed(handling, error)
			);
	}

	/** The message `name` (a request when it has an `id`) as it is handed to application handlers. */
	#handling(
		{ connection, route }: Session,
		name: string,
		id: number | undefined,
		keeper: AnswerKeeper | undefined
	): Handling {
		const request = new HandledRequest(connection, name, id, {
			metrics: route.metrics,
			report: (error) => connection.report(error),
			keeper
		});
		return { connection, request };
	}

	/** A schema or handler failed: reported, and the request answered `internal_error` unless it was. */
	#failed({ connection, request }: Handling, error: unknown): void {
		connection.report(error);
		request.fail();
	}

	/**
	 * Validates the data with every definition of its name before any handler runs: a message that
	 * one of them refuses is answered `invalid_data` and handled by none (a request gets one answer,
	 * and it must be true: "refused" after some handlers acted would not be). Then runs each
	 * definition's handlers with its own parsed value; they share one once-only `reply`.
	 */
	async #handle(
		handling: Handling,
		definitions: [MessageDefinition<unknown>, Set<MessageHandler<unknown>>][],
		data: unknown
	): Promise<void> {
		const { connection, request } = handling;
		const accepted: [Set<MessageHandler<unknown>>, unknown][] = [];
		for (const [definition, handlers] of definitions) {
			const result = await validateMessage(definition, data);
			const { name } = definition;
			if (!isRecord(result)) throw new TypeError(`The schema of "${name}" gave no result`);
			if (result.issues) {
				const invalid = `Invalid "${name}": ${describeIssues(result.issues)}`;
				return request.refuse(ErrorCode.InvalidData, invalid);
			}
			accepted.push([handlers, result.value]);
		}
		for (const [handlers, value] of accepted) {
			await Promise.all(
				[...handlers].map(async (handler) => {
					try {
						await handler(connection, value, request.reply);
					} catch (error) {
						this.#failed(handling, error);
					}
				})
			);
		}
	}
}
