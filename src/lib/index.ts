// The root entry: what a browser app needs to talk to a runesocket server (or another one through a
// dialect). A type is exported when an app has to name it (options built apart, handler arguments,
// stored positions and members); the rest are reached from these (`SocketError['kind']`,
// `SocketClientOptions['auth']`). Helpers only tests or servers need stay in their modules.
export { SocketClient } from './client/socket-client.js';
export type { SocketClientOptions } from './client/socket-client.js';
export { Outbox } from './client/outbox.js';
export type { OutboxOptions } from './client/outbox.js';
export {
	Connected,
	Disconnected,
	ReconnectAttempt,
	ReconnectFailed,
	SocketError,
	Unrecoverable
} from './client/events.js';
export type { ConnectionState } from './client/events.js';
export { ClientMessage } from './protocol/message.js';
export type { MessageData, MessageDefinition } from './protocol/message.js';
export type { StandardSchema } from './protocol/standard-schema.js';
export type { Dialect, InboundMessage, StreamPosition } from './protocol/envelope.js';
export { typeKeyedDialect } from './protocol/dialects/type-keyed.js';
export { eventKeyedDialect } from './protocol/dialects/event-keyed.js';
export { CloseCode } from './protocol/close-codes.js';
export { ErrorCode } from './protocol/error-codes.js';
export { watchPresence } from './client/presence.js';
export type { PresenceMembers } from './protocol/presence.js';
