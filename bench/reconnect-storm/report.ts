import { median, percentile } from '../throughput/stats.js';
import { BUCKET_MS, type ClientKind } from './messages.js';
import type { StormMeasurement } from './storm.js';

/** What each kind of client is called in the tables. */
const LABELS: Record<ClientKind, string> = {
	runesocket: 'runesocket SocketClient (full jitter)',
	baseline: 'ws, no-jitter exponential',
	'socket.io': 'Socket.IO client (±50% jitter)'
};

/** The histogram's bins, in seconds after the restart: half seconds first, where herds land. */
const BINS: readonly [from: number, to: number][] = [
	...Array.from({ length: 10 }, (_, index): [number, number] => [index / 2, (index + 1) / 2]),
	[5, 10],
	[10, Infinity]
];

const seconds = (ms: number): string => (ms / 1000).toFixed(2);
const sum = (values: readonly number[]): number =>
	values.reduce((total, value) => total + value, 0);
const allBackMs = (storm: StormMeasurement): number => storm.backMs.at(-1) ?? Number.NaN;

/** The busiest bucket's count and where it starts, ms after the restart. */
function peakOf(buckets: readonly number[]): { count: number; atMs: number } {
	const count = Math.max(0, ...buckets);
	return { count, atMs: buckets.indexOf(count) * BUCKET_MS };
}

/** Per-bucket counts from the restart until the last client was back, sorted (idle buckets too). */
function bucketsUntilAllBack(storm: StormMeasurement): number[] {
	const last = Math.floor(allBackMs(storm) / BUCKET_MS);
	return Array.from({ length: last + 1 }, (_, index) => storm.upgrades[index] ?? 0).sort(
		(a, b) => a - b
	);
}

/** The round whose all-back time is the median one, so a histogram shows one real storm. */
function medianRound(storms: readonly StormMeasurement[]): StormMeasurement {
	const sorted = [...storms].sort((a, b) => allBackMs(a) - allBackMs(b));
	return sorted[(sorted.length - 1) >> 1];
}

/**
 * The summary table: per kind of client, the medians over its rounds of the attempts while the
 * server was down, the upgrades the restarted server saw (total, busiest 100 ms, 90th percentile of
 * its 100 ms buckets until all were back), the busiest 100 ms the clients offered and the one
 * their backoff delays asked for (before one process's CPU spread them), and how long
 * until 50 / 90 / 99 / 100% of the clients were connected and in their room again; then the peak
 * and the all-back time as ratios to the baseline's, and how late the client and server processes'
 * loops ran (a starved process fires its timers in clumps, which looks like a herd).
 *
 * @example
 * console.log(summaryTable(results).join('\n'));
 */
export function summaryTable(
	results: ReadonlyMap<ClientKind, readonly StormMeasurement[]>
): string[] {
	const medianOf = (kind: ClientKind, pick: (storm: StormMeasurement) => number): number =>
		median((results.get(kind) ?? []).map(pick));
	const peak = (storm: StormMeasurement): number => peakOf(storm.upgrades).count;
	const lines = [
		'| clients | attempts while down | upgrades after restart | peak / 100 ms (at s) | p90 / 100 ms | peak offered / 100 ms | peak scheduled / 100 ms | 50% back s | 90% s | 99% s | all back s | peak vs baseline | all back vs baseline | back twice | loop lag max ms, clients / server |',
		'|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|'
	];
	for (const kind of results.keys()) {
		const backAt = (fraction: number) =>
			seconds(medianOf(kind, (storm) => percentile(storm.backMs, fraction)));
		const ratio = (pick: (storm: StormMeasurement) => number): string =>
			`${(medianOf(kind, pick) / medianOf('baseline', pick)).toFixed(2)}×`;
		const cells = [
			LABELS[kind],
			medianOf(kind, (storm) => storm.attemptsWhileDown),
			medianOf(kind, (storm) => sum(storm.upgrades)),
			`${medianOf(kind, peak)} (${seconds(medianOf(kind, (storm) => peakOf(storm.upgrades).atMs))})`,
			medianOf(kind, (storm) => percentile(bucketsUntilAllBack(storm), 0.9)),
			medianOf(kind, (storm) => peakOf(storm.sent).count),
			medianOf(kind, (storm) => peakOf(storm.scheduled).count) || '—',
			backAt(0.5),
			backAt(0.9),
			backAt(0.99),
			seconds(medianOf(kind, allBackMs)),
			ratio(peak),
			ratio(allBackMs),
			sum((results.get(kind) ?? []).map((storm) => storm.rejoinedTwice)),
			`${medianOf(kind, (storm) => storm.clientLag.maxMs).toFixed(0)} / ${medianOf(kind, (storm) => storm.serverLag.maxMs).toFixed(0)}`
		];
		lines.push(`| ${cells.join(' | ')} |`);
	}
	return lines;
}

/**
 * The histogram table: per kind of client, the upgrade requests its restarted server saw per half
 * second (then 5–10 s and later), in the round with the median all-back time.
 *
 * @example
 * console.log(histogramTable(results).join('\n'));
 */
export function histogramTable(
	results: ReadonlyMap<ClientKind, readonly StormMeasurement[]>
): string[] {
	const label = ([from, to]: [number, number]): string =>
		to == Infinity ? `${from} s+` : `${from}–${to} s`;
	const lines = [
		`| clients | ${BINS.map(label).join(' | ')} |`,
		`|---|${BINS.map(() => '---:|').join('')}`
	];
	for (const [kind, storms] of results) {
		const { upgrades } = medianRound(storms);
		const inBin = ([from, to]: [number, number]): number =>
			sum(
				upgrades.filter(
					(_, index) => index * BUCKET_MS >= from * 1000 && index * BUCKET_MS < to * 1000
				)
			);
		lines.push(`| ${LABELS[kind]} | ${BINS.map(inBin).join(' | ')} |`);
	}
	return lines;
}
