import { ratio, table, whole } from '../markdown.js';
import { median } from '../connections/stats.js';
import type { RoundResult } from './measure.js';

/** Every round's result per contender name, in the order the contenders ran. */
export type ResultsByContender = Map<string, RoundResult[]>;

const micros = (value: number): string => value.toFixed(1);

function spread(values: number[], format: (value: number) => string): string {
	return `${format(Math.min(...values))}–${format(Math.max(...values))}`;
}

/**
 * The requests table: medians per contender of round trips per second and of the server's CPU time
 * per request, each with its ratio against `ws` and Socket.IO, redis-server's CPU time per request
 * where the contender uses it, and the ranges over the rounds.
 *
 * @example
 * console.log(requestsTable(results).join('\n'));
 */
export function requestsTable(results: ResultsByContender): string[] {
	const medianOf = (runs: RoundResult[], key: 'perSecond' | 'cpuPerRequest'): number =>
		median(runs.map((run) => run[key]));
	const baseline = (name: string, key: 'perSecond' | 'cpuPerRequest'): number | undefined => {
		const runs = results.get(name);
		return runs?.length ? medianOf(runs, key) : undefined;
	};
	const header = [
		'contender',
		'requests/s',
		'vs ws',
		'vs socket.io',
		'server CPU µs/request',
		'vs ws',
		'vs socket.io',
		'redis-server CPU µs/request',
		'requests/s range',
		'CPU range'
	];
	const rows = [...results].map(([name, runs]) => {
		if (!runs.length) return [name, 'failed', ...header.slice(2).map(() => '—')];
		const rate = medianOf(runs, 'perSecond');
		const cpu = medianOf(runs, 'cpuPerRequest');
		const redis = runs.flatMap((run) =>
			run.redisPerRequest === undefined ? [] : [run.redisPerRequest]
		);
		return [
			name,
			whole(rate),
			ratio(rate, baseline('ws', 'perSecond')),
			ratio(rate, baseline('socket.io', 'perSecond')),
			micros(cpu),
			ratio(cpu, baseline('ws', 'cpuPerRequest')),
			ratio(cpu, baseline('socket.io', 'cpuPerRequest')),
			redis.length ? micros(median(redis)) : '—',
			spread(
				runs.map((run) => run.perSecond),
				whole
			),
			spread(
				runs.map((run) => run.cpuPerRequest),
				micros
			)
		];
	});
	return table(header, rows);
}
