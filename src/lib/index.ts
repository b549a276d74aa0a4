// The root entry: what a browser app needs to talk to a runesocket server (or another one through a
// dialect). Types that appear in public signatures are exported as types; helpers only tests or
// servers need (backoff, heartbeat frames, reserved names, the server envelope) stay in their modules.
export { SocketClient } from './client/socket-client.js';
export type {
	AuthContext,
	RequestOptions,
	SendOptions,
	SocketClientOptions,
	UrlSource,
	WebSocketConstructor,
	WebSocketLike
} from './client/socket-client.js';
export {
	Connected,
	Disconnected,
	ReconnectAttempt,
	ReconnectFailed,
	SocketError,
	Unrecoverable
} from './client/events.js';
export type { ClientEvent, ConnectionState, SocketErrorKind } from './client/events.js';
export type { DocumentLike, PauseReason, WindowLike } from './client/environment.js';
export { ClientMessage } from './protocol/message.js';
export type { MessageData, MessageDefinition } from './protocol/message.js';
export type {
	InferOutput,
	StandardIssue,
	StandardResult,
	StandardSchema
} from './protocol/standard-schema.js';
export { envelopeDialect } from './protocol/envelope.js';
export type {
	Dialect,
	InboundMessage,
	OutboundMessage,
	StreamPosition
} from './protocol/envelope.js';
export { typeKeyedDialect } from './protocol/dialects/type-keyed.js';
export { eventKeyedDialect } from './protocol/dialects/event-keyed.js';
export { CloseCode } from './protocol/close-codes.js';
export type { CloseCodeValue } from './protocol/close-codes.js';
export { ErrorCode } from './protocol/error-codes.js';
export type { ErrorCodeValue } from './protocol/error-codes.js';
export { safeJsonParse } from './protocol/safe-json.js';
export { watchPresence } from './client/presence.js';
export type { PresenceWatch } from './client/presence.js';
export type { PresenceEntry, PresenceMembers } from './protocol/presence.js';
export { createWebSocket } from './client/facade.js';
export type {
	ApiClientConfig,
	CloseInfo,
	WebSocketClient,
	WebSocketConfig
} from './client/facade.js';
