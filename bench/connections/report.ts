import { ratio, table, whole } from '../markdown.js';
import type { RoundResult } from './measure-contender.js';
import { median } from './stats.js';

/** Every round's result per contender name, in the order the contenders ran. */
export type ResultsByContender = Map<string, RoundResult[]>;

const kilobytes = (bytes: number): string => (bytes / 1024).toFixed(1);

function medianOf(runs: RoundResult[], key: keyof Omit<RoundResult, 'version'>): number {
	return median(runs.map((run) => run[key]));
}

function spread(values: number[], format: (value: number) => string): string {
	return `${format(Math.min(...values))}–${format(Math.max(...values))}`;
}

/** A row that says a contender has no figures (every round of it failed). */
function failedRow(name: string, columns: number): string[] {
	return [name, 'failed', ...Array.from({ length: columns - 2 }, () => '—')];
}

/**
 * The idle-memory table: medians per contender of RSS (also without V8's young generation), V8 heap
 * and external memory per connection, with RSS ratios against `ws` and Socket.IO and its range over
 * the rounds.
 *
 * @example
 * console.log(memoryTable(results).join('\n'));
 */
export function memoryTable(results: ResultsByContender): string[] {
	const baseline = (name: string): number | undefined => {
		const runs = results.get(name);
		return runs?.length ? medianOf(runs, 'rssPerConnection') : undefined;
	};
	const rows = [...results].map(([name, runs]) => {
		if (!runs.length) return failedRow(name, 8);
		const rss = medianOf(runs, 'rssPerConnection');
		return [
			name,
			kilobytes(rss),
			ratio(rss, baseline('ws')),
			ratio(rss, baseline('socket.io')),
			kilobytes(medianOf(runs, 'rssLessYoungPerConnection')),
			kilobytes(medianOf(runs, 'heapPerConnection')),
			kilobytes(medianOf(runs, 'externalPerConnection')),
			spread(
				runs.map((run) => run.rssPerConnection),
				kilobytes
			)
		];
	});
	const header = [
		'contender',
		'RSS KB/conn',
		'vs ws',
		'vs socket.io',
		'RSS less young gen',
		'heap KB/conn',
		'external KB/conn',
		'RSS range'
	];
	return table(header, rows);
}

/**
 * The connect-rate table: medians per contender of connect + auth + join per second, with ratios
 * against `ws` and Socket.IO and each contender's range over the rounds.
 *
 * @example
 * console.log(connectRateTable(results).join('\n'));
 */
export function connectRateTable(results: ResultsByContender): string[] {
	const baseline = (name: string): number | undefined => {
		const runs = results.get(name);
		return runs?.length ? medianOf(runs, 'connectsPerSecond') : undefined;
	};
	const rows = [...results].map(([name, runs]) => {
		if (!runs.length) return failedRow(name, 5);
		const rate = medianOf(runs, 'connectsPerSecond');
		return [
			name,
			whole(rate),
			ratio(rate, baseline('ws')),
			ratio(rate, baseline('socket.io')),
			spread(
				runs.map((run) => run.connectsPerSecond),
				whole
			)
		];
	});
	return table(['contender', 'connects/s', 'vs ws', 'vs socket.io', 'range'], rows);
}
