// runesocket/server: what a server app names. Everything a route can be given is reachable through
// RouteOptions and SocketServerOptions; message definitions, codes and stream positions come from
// `runesocket`, the module both ends share.
export { createSocketServer, SocketServer } from './socket-server.js';
export type { MessageHandler } from './socket-server.js';
export type { Reply } from './session/reply.js';
export { Connection } from './connection.js';
export { defineRoute } from './options.js';
export type { AuthResult, RouteOptions, SocketServerOptions } from './options.js';
export { EVERYONE } from '../engine/engine.js';
export type { Engine } from '../engine/engine.js';
export { MemoryEngine } from '../engine/memory-engine.js';
export { presenceRoomOf } from '../engine/presence-scope.js';
export { tokenFromCookie, tokenFromHeader, tokenFromQuery } from './upgrade/http-auth.js';
export { shareSocketServer, sharedSocketServer } from './shared-server.js';
export { metricsRequestHandler } from './metrics/metrics-endpoint.js';
