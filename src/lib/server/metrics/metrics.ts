import { prometheusText, type MetricFamily, type MetricSample } from './prometheus-text.js';

/**
 * Upper bounds (seconds) of the publish latency histogram's buckets: from half a millisecond (a
 * `MemoryEngine` publish) to five seconds (a Redis that is failing over). Fixed, so that series from
 * every process and every version add up.
 */
export const PUBLISH_DURATION_BUCKETS: readonly number[] = Object.freeze([
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5
]);

/**
 * Why an upgrade request to one of the server's routes was refused before authentication.
 */
export type UpgradeRefusal =
	'not_found' | 'malformed_path' | 'shutting_down' | 'origin' | 'capacity' | 'error';

/**
 * How a repeat of a request key was answered: at once with the answer kept for it (`answered`), or
 * after waiting for an attempt still running (`waited`, whatever that wait ended with).
 */
export type RequestRepeat = 'answered' | 'waited';

/**
 * A histogram as read at one moment: cumulative counts per upper bound (the last is `Infinity`),
 * the sum of the observed values and their count.
 */
export interface HistogramSnapshot {
	readonly buckets: readonly { readonly le: number; readonly count: number }[];
	readonly sum: number;
	readonly count: number;
}

/**
 * The socket server's numbers at one moment, as `server.metricsSnapshot()` returns them: what
 * `server.metrics()` writes in Prometheus' format, for tests and applications that want the values.
 * Records are keyed by the label value (route path, code, reason).
 */
export interface ServerMetricsSnapshot {
	/** Open connections (authenticated or not), by route path. */
	readonly connectionsOpen: Readonly<Record<string, number>>;
	/** Connections accepted since the server started, by route path. */
	readonly connectionsOpened: Readonly<Record<string, number>>;
	/**
	 * Connections closed, by WebSocket close code: the code the server closed with, or the peer's when
	 * the peer closed first; a peer's code that is not one runesocket knows is counted as `other`.
	 */
	readonly connectionsClosed: Readonly<Record<string, number>>;
	/** Refused authentications, by code: the HTTP status of `authenticate`, the close code of `firstMessageAuth`. */
	readonly authRefused: Readonly<Record<string, number>>;
	/** Upgrade requests refused before authentication, by reason. */
	readonly upgradesRefused: Readonly<Partial<Record<UpgradeRefusal, number>>>;
	/** Data frames received from clients (heartbeats and frames the rate limit refused included). */
	readonly messagesReceived: number;
	/** Messages written to client sockets. */
	readonly messagesSent: number;
	/** Bytes of those messages as framed, before any permessage-deflate compression. */
	readonly sentBytes: number;
	/** Frames the rate limit refused. */
	readonly rateLimited: number;
	/** Connections closed with 1013 because their backlog passed `maxBufferedBytes`. */
	readonly slowConsumerCloses: number;
	/** Joins with a `since` position whose missed messages were replayed from history. */
	readonly replays: number;
	/** Messages those replays sent. */
	readonly replayedMessages: number;
	/** Times a room was reported unrecoverable (`recovered: false`), at a join or while streaming. */
	readonly roomsUnrecoverable: Readonly<Record<'join' | 'stream', number>>;
	/** Whether the engine reports itself healthy (an engine without a `healthy` property always is). */
	readonly engineHealthy: boolean;
	/** Seconds from `server.publish` handing a message to the engine until the engine settled. */
	readonly publishDuration: HistogramSnapshot;
	/** `server.publish` calls the engine rejected. */
	readonly publishFailures: number;
	/** Requests no handler answered within 5 s, answered `no_reply` instead. */
	readonly requestsUnanswered: number;
	/** Connections closed with 4005 past `maxConnectionsPerUser`, by route path. */
	readonly userConnectionsRefused: Readonly<Record<string, number>>;
	/** Connections this process closed for `disconnectUser` (sent by any process). */
	readonly userConnectionsRevoked: number;
	/** Repeats of a request key, by route path, then by how they were met (`RequestRepeat`). */
	readonly requestRepeats: Readonly<
		Record<string, Readonly<Partial<Record<RequestRepeat, number>>>>
	>;
	/** Keyed requests answered `unavailable` (the key store failed or did not answer), by route path. */
	readonly requestKeysUnavailable: Readonly<Record<string, number>>;
	/**
	 * Room messages not sent because a newer one with the same conflation key superseded them (in the
	 * queue of a connection that fell behind, or in a replay), by route path.
	 */
	readonly messagesConflated: Readonly<Record<string, number>>;
}

/**
 * A histogram with fixed buckets: one observation is a short scan and two additions, no allocation.
 */
export class Histogram {
	readonly bounds: readonly number[];
	/** Observations per bucket (not cumulative); the last slot is the `+Inf` bucket. */
	#counts: Float64Array;
	#sum = 0;

	constructor(bounds: readonly number[]) {
		this.bounds = bounds;
		this.#counts = new Float64Array(bounds.length + 1);
	}

	observe(value: number): void {
		const bounds = this.bounds;
		let index = 0;
		while (index < bounds.length && value > bounds[index]) index++;
		this.#counts[index]++;
		this.#sum += value;
	}

	snapshot(): HistogramSnapshot {
		const buckets: { le: number; count: number }[] = [];
		let cumulative = 0;
		for (let index = 0; index < this.#counts.length; index++) {
			cumulative += this.#counts[index];
			buckets.push({ le: this.bounds[index] ?? Infinity, count: cumulative });
		}
		return { buckets, sum: this.#sum, count: cumulative };
	}
}

function increment(counts: Map<string, number>, key: string): void {
	counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * Close codes that are labelled as themselves whoever sent them: the RFC 6455 codes a close can end
 * with (1004 is reserved and 1015 never travels in a frame; 1005 and 1006 are what `ws` reports for a
 * close frame without a code and for no close frame at all) and runesocket's own 4001–4003.
 */
const KNOWN_CLOSE_CODES: ReadonlySet<number> = new Set([
	1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 4001, 4002,
	4003
]);

/**
 * The label of every close code a peer chose that is not one of `KNOWN_CLOSE_CODES`: a client picks
 * its close code freely (3000–4999), and one series per code would let it grow the scrape at will.
 */
export const OTHER_CLOSE_CODE = 'other';

/**
 * The `code` label of a closed connection. A code the server closed with itself is labelled as it
 * is when it is one of the known codes or an application's own 4000–4999 code (an `authenticate` or
 * `verify` refusal, `connection.close(4xxx)`): those are the server's choice, so their number is
 * bounded by the application. A code only the peer chose is labelled as it is only when it is known;
 * every other one is `other`.
 */
export function closeCodeLabel(code: number, sentByServer: boolean): string {
	if (KNOWN_CLOSE_CODES.has(code)) return String(code);
	const applicationCode = Number.isInteger(code) && code >= 4000 && code <= 4999;
	return sentByServer && applicationCode ? String(code) : OTHER_CLOSE_CODE;
}

/**
 * The tallies one socket server keeps while it runs: plain numbers bumped where the event happens,
 * and small maps for the labelled ones, whose keys are bounded (route paths, codes, reasons). Gauges
 * (open connections, engine health) are not kept here: they are read when the metrics are.
 */
export class ServerMetrics {
	messagesReceived = 0;
	messagesSent = 0;
	sentBytes = 0;
	rateLimited = 0;
	slowConsumerCloses = 0;
	replays = 0;
	replayedMessages = 0;
	unrecoverableAtJoin = 0;
	unrecoverableWhileStreaming = 0;
	publishFailures = 0;
	requestsUnanswered = 0;
	userConnectionsRevoked = 0;
	readonly publishDuration = new Histogram(PUBLISH_DURATION_BUCKETS);
	readonly opened = new Map<string, number>();
	readonly closed = new Map<string, number>();
	readonly refusedAuth = new Map<string, number>();
	readonly refusedUpgrades = new Map<UpgradeRefusal, number>();
	readonly refusedUserConnections = new Map<string, number>();
	readonly repeatedRequests = new Map<string, Map<RequestRepeat, number>>();
	readonly unavailableRequestKeys = new Map<string, number>();
	readonly conflatedMessages = new Map<string, number>();

	connectionOpened(route: string): void {
		increment(this.opened, route);
	}

	/** A connection closed with `code`: the server's own when it closed first, else the peer's. */
	connectionClosed(code: number, sentByServer: boolean): void {
		increment(this.closed, closeCodeLabel(code, sentByServer));
	}

	authRefused(code: number): void {
		increment(this.refusedAuth, String(code));
	}

	/** A connection of `route` was refused with 4005: its user had `maxConnectionsPerUser` already. */
	userConnectionRefused(route: string): void {
		increment(this.refusedUserConnections, route);
	}

	/** A repeat of a request key of `route` was answered without running a handler. */
	requestRepeated(route: string, outcome: RequestRepeat): void {
		let outcomes = this.repeatedRequests.get(route);
		if (!outcomes) this.repeatedRequests.set(route, (outcomes = new Map()));
		outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
	}

	/** A keyed request of `route` was answered `unavailable`: its key could not be checked. */
	requestKeyUnavailable(route: string): void {
		increment(this.unavailableRequestKeys, route);
	}

	/** `count` room messages of `route` were not sent: a newer one with their conflation key superseded them. */
	messagesConflated(route: string, count: number): void {
		this.conflatedMessages.set(route, (this.conflatedMessages.get(route) ?? 0) + count);
	}

	upgradeRefused(reason: UpgradeRefusal): void {
		this.refusedUpgrades.set(reason, (this.refusedUpgrades.get(reason) ?? 0) + 1);
	}

	/** The tallies as numbers, with what is read at scrape time: open connections and engine health. */
	snapshot(connectionsOpen: Record<string, number>, engineHealthy: boolean): ServerMetricsSnapshot {
		return {
			connectionsOpen,
			connectionsOpened: Object.fromEntries(this.opened),
			connectionsClosed: Object.fromEntries(this.closed),
			authRefused: Object.fromEntries(this.refusedAuth),
			upgradesRefused: Object.fromEntries(this.refusedUpgrades),
			messagesReceived: this.messagesReceived,
			messagesSent: this.messagesSent,
			sentBytes: this.sentBytes,
			rateLimited: this.rateLimited,
			slowConsumerCloses: this.slowConsumerCloses,
			replays: this.replays,
			replayedMessages: this.replayedMessages,
			roomsUnrecoverable: {
				join: this.unrecoverableAtJoin,
				stream: this.unrecoverableWhileStreaming
			},
			engineHealthy,
			publishDuration: this.publishDuration.snapshot(),
			publishFailures: this.publishFailures,
			requestsUnanswered: this.requestsUnanswered,
			userConnectionsRefused: Object.fromEntries(this.refusedUserConnections),
			userConnectionsRevoked: this.userConnectionsRevoked,
			requestRepeats: Object.fromEntries(
				[...this.repeatedRequests].map(([route, outcomes]) => [route, Object.fromEntries(outcomes)])
			),
			requestKeysUnavailable: Object.fromEntries(this.unavailableRequestKeys),
			messagesConflated: Object.fromEntries(this.conflatedMessages)
		};
	}
}

function counts<Key extends string>(
	record: Readonly<Partial<Record<Key, number>>>,
	label: string
): MetricSample[] {
	return Object.entries<number | undefined>(record).map(([key, value]) => ({
		labels: { [label]: key },
		value: value ?? 0
	}));
}

/** One sample per route and outcome. */
function repeatSamples(repeats: ServerMetricsSnapshot['requestRepeats']): MetricSample[] {
	return Object.entries(repeats).flatMap(([route, outcomes]) =>
		Object.entries<number | undefined>(outcomes).map(([outcome, value]) => ({
			labels: { route, outcome },
			value: value ?? 0
		}))
	);
}

function histogramSamples({ buckets, sum, count }: HistogramSnapshot): MetricSample[] {
	return [
		...buckets.map(({ le, count: cumulative }) => ({
			suffix: '_bucket',
			labels: { le: le == Infinity ? '+Inf' : String(le) },
			value: cumulative
		})),
		{ suffix: '_sum', value: sum },
		{ suffix: '_count', value: count }
	];
}

/**
 * The metric families of a snapshot, named `runesocket_…`, in the order an operator reads them.
 */
export function metricFamilies(snapshot: ServerMetricsSnapshot): MetricFamily[] {
	const single = (value: number): MetricSample[] => [{ value }];
	return [
		{
			name: 'runesocket_connections_open',
			help: 'Open WebSocket connections, by route path.',
			type: 'gauge',
			samples: counts(snapshot.connectionsOpen, 'route')
		},
		{
			name: 'runesocket_connections_opened_total',
			help: 'WebSocket connections accepted, by route path.',
			type: 'counter',
			samples: counts(snapshot.connectionsOpened, 'route')
		},
		{
			name: 'runesocket_connections_closed_total',
			help: "WebSocket connections closed, by close code: the server's, or the peer's when it closed first (\"other\" for a peer's code runesocket does not know).",
			type: 'counter',
			samples: counts(snapshot.connectionsClosed, 'code')
		},
		{
			name: 'runesocket_auth_refused_total',
			help: 'Refused authentications, by code: HTTP status at the upgrade, close code for first-message auth.',
			type: 'counter',
			samples: counts(snapshot.authRefused, 'code')
		},
		{
			name: 'runesocket_upgrades_refused_total',
			help: 'Upgrade requests refused before authentication, by reason.',
			type: 'counter',
			samples: counts(snapshot.upgradesRefused, 'reason')
		},
		{
			name: 'runesocket_messages_received_total',
			help: 'Data frames received from clients, heartbeats and rate-limited frames included.',
			type: 'counter',
			samples: single(snapshot.messagesReceived)
		},
		{
			name: 'runesocket_messages_sent_total',
			help: 'Messages written to client sockets.',
			type: 'counter',
			samples: single(snapshot.messagesSent)
		},
		{
			name: 'runesocket_sent_bytes_total',
			help: 'Bytes of the messages written to client sockets, as framed before compression.',
			type: 'counter',
			samples: single(snapshot.sentBytes)
		},
		{
			name: 'runesocket_rate_limited_total',
			help: 'Frames refused by the rate limit.',
			type: 'counter',
			samples: single(snapshot.rateLimited)
		},
		{
			name: 'runesocket_slow_consumer_closes_total',
			help: 'Connections closed with 1013 because their backlog passed maxBufferedBytes.',
			type: 'counter',
			samples: single(snapshot.slowConsumerCloses)
		},
		{
			name: 'runesocket_replays_total',
			help: 'Joins with a since position whose missed messages were replayed from history.',
			type: 'counter',
			samples: single(snapshot.replays)
		},
		{
			name: 'runesocket_replayed_messages_total',
			help: 'Messages sent by history replays at joins.',
			type: 'counter',
			samples: single(snapshot.replayedMessages)
		},
		{
			name: 'runesocket_rooms_unrecoverable_total',
			help: 'Times a room was reported unrecoverable to its members, at a join or while streaming.',
			type: 'counter',
			samples: counts(snapshot.roomsUnrecoverable, 'during')
		},
		{
			name: 'runesocket_engine_healthy',
			help: 'Whether the engine reports itself healthy (1) or not (0).',
			type: 'gauge',
			samples: single(snapshot.engineHealthy ? 1 : 0)
		},
		{
			name: 'runesocket_publish_duration_seconds',
			help: 'Seconds from server.publish handing a message to the engine until the engine settled.',
			type: 'histogram',
			samples: histogramSamples(snapshot.publishDuration)
		},
		{
			name: 'runesocket_publish_failures_total',
			help: 'server.publish calls the engine rejected.',
			type: 'counter',
			samples: single(snapshot.publishFailures)
		},
		{
			name: 'runesocket_requests_unanswered_total',
			help: 'Requests no handler answered within 5 s, answered no_reply instead.',
			type: 'counter',
			samples: single(snapshot.requestsUnanswered)
		},
		{
			name: 'runesocket_user_connections_refused_total',
			help: 'Connections closed with 4005 because their user had maxConnectionsPerUser open already, by route path.',
			type: 'counter',
			samples: counts(snapshot.userConnectionsRefused, 'route')
		},
		{
			name: 'runesocket_user_connections_revoked_total',
			help: 'Connections closed by disconnectUser (sent from any process).',
			type: 'counter',
			samples: single(snapshot.userConnectionsRevoked)
		},
		{
			name: 'runesocket_request_repeats_total',
			help: 'Repeats of a request key, by route path and outcome: answered (with the answer kept for the key, at once) or waited (for an attempt still running).',
			type: 'counter',
			samples: repeatSamples(snapshot.requestRepeats)
		},
		{
			name: 'runesocket_request_keys_unavailable_total',
			help: 'Keyed requests answered unavailable because the request key store failed or did not answer (no handler ran), by route path.',
			type: 'counter',
			samples: counts(snapshot.requestKeysUnavailable, 'route')
		},
		{
			name: 'runesocket_messages_conflated_total',
			help: 'Room messages not sent because a newer one with the same conflation key superseded them (queued for a connection that fell behind, or in a replay), by route path.',
			type: 'counter',
			samples: counts(snapshot.messagesConflated, 'route')
		}
	];
}

/** A snapshot in Prometheus' text exposition format 0.0.4, as `server.metrics()` returns it. */
export function metricsText(snapshot: ServerMetricsSnapshot): string {
	return prometheusText(metricFamilies(snapshot));
}
