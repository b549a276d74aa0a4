export { createSocketServer, SocketServer } from './socket-server.js';
export { EVERYONE } from '../engine/engine.js';
export type { MessageHandler, Reply, ServerPublishOptions } from './socket-server.js';
export { Connection } from './connection.js';
export type { BroadcastOptions } from './connection.js';
export { MemoryEngine } from '../engine/memory-engine.js';
export type { MemoryEngineOptions } from '../engine/memory-engine.js';
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
	PublishOptions,
	StreamPosition
} from '../engine/engine.js';
export { presenceRoomOf, presenceScopeOf } from '../engine/presence-scope.js';
export type { PresenceScope } from '../engine/presence-scope.js';
export { defineRoute, ROUTE_DEFAULTS, DEFAULT_MAX_CONNECTIONS } from './options.js';
export { DEFAULT_MAX_MESSAGE_SIZE } from '../engine/message-typing.js';
export type {
	AuthResult,
	CompressionOptions,
	FirstMessageAuth,
	IncomingMessageFrame,
	PresenceOptions,
	RouteOptions,
	SocketServerOptions
} from './options.js';
export type { OriginPolicy } from './upgrade/origin.js';
export type { RateLimit } from './session/rate-limiter.js';
export { tokenFromCookie, tokenFromHeader, tokenFromQuery } from './upgrade/http-auth.js';
export { shareSocketServer, sharedSocketServer, forgetSocketServer } from './shared-server.js';
export { metricsRequestHandler } from './metrics/metrics-endpoint.js';
export type { MetricsEndpointOptions, MetricsSource } from './metrics/metrics-endpoint.js';
export { PUBLISH_DURATION_BUCKETS } from './metrics/metrics.js';
export type {
	HistogramSnapshot,
	ServerMetricsSnapshot,
	UpgradeRefusal
} from './metrics/metrics.js';
export { PROMETHEUS_CONTENT_TYPE, prometheusText } from './metrics/prometheus-text.js';
export type { MetricFamily, MetricSample, MetricType } from './metrics/prometheus-text.js';
export { ClientMessage } from '../protocol/message.js';
export type { MessageDefinition, MessageData } from '../protocol/message.js';
export { CloseCode } from '../protocol/close-codes.js';
export { ErrorCode } from '../protocol/error-codes.js';
