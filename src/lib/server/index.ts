export { createSocketServer, SocketServer, EVERYONE } from './socket-server.js';
export type { MessageHandler, Reply, ServerPublishOptions } from './socket-server.js';
export { Connection } from './connection.js';
export type { BroadcastOptions } from './connection.js';
export { MemoryEngine } from './memory-engine.js';
export type { MemoryEngineOptions } from './memory-engine.js';
export type {
	Deliver,
	Engine,
	EngineHandlers,
	EnginePresence,
	HistoryOptions,
	HistoryPolicy,
	HistoryReadOptions,
	HistoryResult,
	PresenceChange,
	PresenceMember,
	PresenceRecord,
	PublishOptions,
	StreamPosition
} from './engine.js';
export type { PresenceOptions } from './presence.js';
export { presenceRoomOf, presenceScopeOf } from './presence-scope.js';
export type { PresenceScope } from './presence-scope.js';
export {
	defineRoute,
	ROUTE_DEFAULTS,
	DEFAULT_MAX_CONNECTIONS,
	DEFAULT_MAX_MESSAGE_SIZE
} from './options.js';
export type {
	AuthResult,
	CompressionOptions,
	FirstMessageAuth,
	IncomingMessageFrame,
	RouteOptions,
	SocketServerOptions
} from './options.js';
export type { OriginPolicy } from './origin.js';
export type { RateLimit } from './rate-limiter.js';
export { tokenFromCookie, tokenFromHeader, tokenFromQuery } from './http-auth.js';
export { shareSocketServer, sharedSocketServer, forgetSocketServer } from './shared.js';
export { metricsRequestHandler } from './metrics-endpoint.js';
export type { MetricsEndpointOptions, MetricsSource } from './metrics-endpoint.js';
export { PUBLISH_DURATION_BUCKETS } from './metrics.js';
export type { HistogramSnapshot, ServerMetricsSnapshot, UpgradeRefusal } from './metrics.js';
export { PROMETHEUS_CONTENT_TYPE, prometheusText } from './prometheus-text.js';
export type { MetricFamily, MetricSample, MetricType } from './prometheus-text.js';
export { ClientMessage } from '../protocol/message.js';
export type { MessageDefinition, MessageData } from '../protocol/message.js';
export { CloseCode } from '../protocol/close-codes.js';
export { ErrorCode } from '../protocol/error-codes.js';
