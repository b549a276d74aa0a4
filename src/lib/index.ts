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
export type {
	DocumentLike,
	EnvironmentEvent,
	EnvironmentTarget,
	WindowLike
} from './client/environment.js';
export { reconnectDelay } from './client/backoff.js';
export { ClientMessage, validateMessage } from './protocol/message.js';
export type { MessageData, MessageDefinition } from './protocol/message.js';
export type {
	InferOutput,
	StandardIssue,
	StandardResult,
	StandardSchema
} from './protocol/standard-schema.js';
export { envelopeDialect, Heartbeat, ReservedName } from './protocol/envelope.js';
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
export { safeJsonParse } from './protocol/safe-json.js';
export { createWebSocket } from './client/facade.js';
export type {
	ApiClientConfig,
	CloseInfo,
	WebSocketClient,
	WebSocketConfig
} from './client/facade.js';
export { ErrorCode } from './protocol/error-codes.js';
export type { ErrorCodeValue } from './protocol/error-codes.js';
export type { ServerMessage } from './protocol/envelope.js';
