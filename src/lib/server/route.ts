import { serverMessage } from '../protocol/envelope.js';
import type { RequestKeyLimits } from '../engine/engine.js';
import { errorFrom } from '../engine/errors.js';
import { sendToAll, type Connection, type ConnectionRoute } from './connection.js';
import { ROUTE_DEFAULTS, type RouteOptions } from './options.js';
import { ServerMetrics } from './metrics/metrics.js';
import { RateLimiter } from './session/rate-limiter.js';
import { logFailure } from './callbacks.js';
import { RoutePattern } from './upgrade/route-pattern.js';
import type { TransportServer } from './transport/transport.js';
import { WsTransportServer } from './transport/ws-transport.js';

/** Node fires a timer set for longer than this at once (after 1 ms), so no wait may be longer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Throws a `TypeError` naming the first numeric option of the route that is not a number from 0
 * up (or, for a wait, up to `MAX_TIMER_MS`): a `heartbeat` of `Infinity` became a liveness check
 * every millisecond, dropping every client (issue 17), and `NaN` slipped past every `>` test.
 */
function checkNumbers(options: RouteOptions<unknown>): void {
	const check = (name: string, value: number | undefined, most = Infinity) => {
		if (value === undefined || (typeof value == 'number' && value >= 0 && value <= most)) return;
		const range = most == Infinity ? 'a number from 0 up' : `0 to ${most} ms`;
		throw new TypeError(`Route ${options.path}: ${name} must be ${range}, not ${String(value)}`);
	};
	const { firstMessageAuth, compression, rateLimit, requestKeys } = options;
	check('heartbeat', options.heartbeat, MAX_TIMER_MS);
	check('serverHeartbeat', options.serverHeartbeat, MAX_TIMER_MS);
	check('firstMessageAuth.timeout', firstMessageAuth?.timeout, MAX_TIMER_MS);
	check('firstMessageAuth.maxPending', firstMessageAuth?.maxPending);
	check('maxPayload', options.maxPayload);
	check('maxBufferedBytes', options.maxBufferedBytes);
	check('maxRoomsPerConnection', options.maxRoomsPerConnection);
	check('maxConnectionsPerUser', options.maxConnectionsPerUser);
	check('tokenRefresh.lead', options.tokenRefresh?.lead, MAX_TIMER_MS);
	check('presence.grace', options.presence?.grace, MAX_TIMER_MS);
	check('compression.threshold', compression?.threshold);
	check('compression.concurrencyLimit', compression?.concurrencyLimit);
	if (requestKeys) {
		check('requestKeys.window', requestKeys.window, MAX_TIMER_MS);
		check('requestKeys.lease', requestKeys.lease, MAX_TIMER_MS);
		check('requestKeys.maxKeys', requestKeys.maxKeys);
		check('requestKeys.maxBytes', requestKeys.maxBytes);
	}
	if (!rateLimit) return;
	check('rateLimit.messagesPerSecond', rateLimit.messagesPerSecond);
	check('rateLimit.burst', rateLimit.burst);
	check('rateLimit.closeAfter', rateLimit.closeAfter);
}

/** The route's `requestKeys` with their defaults, or undefined when it turned them off. */
function requestKeyLimits({ requestKeys }: RouteOptions<unknown>): RequestKeyLimits | undefined {
	if (requestKeys === false) return undefined;
	return {
		window: requestKeys?.window ?? ROUTE_DEFAULTS.requestKeyWindow,
		lease: requestKeys?.lease ?? ROUTE_DEFAULTS.requestKeyLease,
		maxKeys: requestKeys?.maxKeys ?? ROUTE_DEFAULTS.requestKeysPerScope,
		maxBytes: requestKeys?.maxBytes ?? ROUTE_DEFAULTS.requestKeyBytesPerScope
	};
}

/**
 * A route as the server runs it: its options with defaults applied, its own transport server (each
 * route has its own payload limit and compression), its connections, its timers and its `onError`.
 */
export class Route implements ConnectionRoute {
	readonly options: RouteOptions<unknown>;
	readonly pattern: RoutePattern;
	readonly transports: TransportServer;
	readonly connections = new Set<Connection<unknown>>();
	readonly maxBufferedBytes: number;
	readonly maxRoomsPerConnection: number;
	readonly authTimeout: number;
	readonly maxPendingAuth: number;
	/** How long and how much of its request keys are kept; undefined when `requestKeys` is `false`. */
	readonly requestKeyLimits: RequestKeyLimits | undefined;
	/** The tallies of the server it belongs to, which its connections and sessions bump. */
	readonly metrics: ServerMetrics;
	/** Connections with a pending-authentication slot (awaiting or verifying their token). */
	pendingAuth = 0;
	#timers: ReturnType<typeof setInterval>[] = [];

	constructor(options: RouteOptions<unknown>, metrics = new ServerMetrics()) {
		if (options.authenticate && options.firstMessageAuth) {
			throw new TypeError(
				`Route ${options.path}: choose authenticate or firstMessageAuth, not both`
			);
		}
		checkNumbers(options);
		this.options = options;
		this.metrics = metrics;
		this.pattern = new RoutePattern(options.path);
		this.maxBufferedBytes = options.maxBufferedBytes ?? ROUTE_DEFAULTS.maxBufferedBytes;
		this.maxRoomsPerConnection =
			options.maxRoomsPerConnection ?? ROUTE_DEFAULTS.maxRoomsPerConnection;
		this.authTimeout = options.firstMessageAuth?.timeout ?? ROUTE_DEFAULTS.authTimeout;
		this.maxPendingAuth = options.firstMessageAuth?.maxPending ?? ROUTE_DEFAULTS.maxPendingAuth;
		this.requestKeyLimits = requestKeyLimits(options);
		const compression = options.compression;
		this.transports = new WsTransportServer({
			maxPayload: options.maxPayload ?? ROUTE_DEFAULTS.maxPayload,
			compression: compression?.enabled
				? {
						threshold: compression.threshold ?? ROUTE_DEFAULTS.compressionThreshold,
						concurrencyLimit: compression.concurrencyLimit ?? ROUTE_DEFAULTS.compressionConcurrency
					}
				: undefined
		});
	}

	/** Hands a failure to the route's `onError` (as an Error), or logs it when there is none. */
	report(connection: Connection<unknown>, failure: unknown): void {
		let error = errorFrom(failure);
		const { onError } = this.options;
		try {
			if (onError) return onError(connection, error);
		} catch (handlerError) {
			error = errorFrom(handlerError);
		}
		logFailure(error);
	}

	/**
	 * The user `authData` names (`userId`, default `authData.id`). A `userId` that throws names no
	 * user; its error is reported.
	 */
	userIdOf(connection: Connection<unknown>, authData: unknown): string | undefined {
		const { userId } = this.options;
		if (!userId) {
			const id = (authData as { id?: unknown } | null | undefined)?.id;
			return typeof id == 'string' || typeof id == 'number' ? String(id) : undefined;
		}
		try {
			const id = userId(authData);
			return typeof id == 'string' ? id : undefined;
		} catch (error) {
			this.report(connection, error);
			return undefined;
		}
	}

	/** A fresh rate limiter for one connection, or none when the route has no limit. */
	rateLimiter(): RateLimiter | undefined {
		return this.options.rateLimit === false ? undefined : new RateLimiter(this.options.rateLimit);
	}

	/** Starts the liveness pings and the optional server heartbeat message. */
	startTimers(): void {
		const heartbeat = this.options.heartbeat ?? ROUTE_DEFAULTS.heartbeat;
		if (heartbeat > 0) this.#timers.push(setInterval(() => this.#checkLiveness(), heartbeat));
		const serverHeartbeat = this.options.serverHeartbeat ?? ROUTE_DEFAULTS.serverHeartbeat;
		if (serverHeartbeat > 0) {
			this.#timers.push(setInterval(() => this.#sendServerHeartbeat(), serverHeartbeat));
		}
	}

	stopTimers(): void {
		for (const timer of this.#timers) clearInterval(timer);
		this.#timers = [];
	}

	/** A peer that has not answered the previous ping (nor sent anything since) is gone. */
	#checkLiveness(): void {
		for (const connection of this.connections) {
			if (!connection.alive) {
				connection.terminate();
				continue;
			}
			connection.alive = false;
			connection.ping();
		}
	}

	#sendServerHeartbeat(): void {
		const timestamp = Date.now();
		const data = { server_time: new Date(timestamp).toISOString() };
		sendToAll(this.connections, serverMessage('heartbeat', data, { timestamp }));
	}
}
