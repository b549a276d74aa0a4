import type { DeliveryCount } from './messages.js';
import { median } from './stats.js';

const percent = (share: number): string => `${Math.round(share * 100)}%`;

/**
 * One contender's result in one round of a scenario.
 *
 * @example
 * results.get('ws')?.push(await runOnce(running, plan, redis));
 */
export interface RunResult {
	deliveriesPerSecond: number;
	/** CPU of the contender's server processes (summed) per delivery. */
	cpuMicrosPerDelivery: number;
	/** CPU of the bench's redis-server per delivery, for contenders on Redis. */
	redisCpuMicrosPerDelivery?: number;
	/** The servers' CPU time over the run's wall time: near 1 per process, the server is the bottleneck. */
	serverCpuShare: number;
	/** The load process's CPU time over the run's wall time: near 1, the clients are the bottleneck. */
	loadCpuShare: number;
	count: DeliveryCount;
}

function medianOf(runs: readonly RunResult[], pick: (run: RunResult) => number): number {
	return median(runs.map(pick));
}

function throughputOf(runs: readonly RunResult[] | undefined): number {
	return medianOf(runs ?? [], (run) => run.deliveriesPerSecond);
}

function redisCpuOf(runs: readonly RunResult[]): string {
	if (runs.some((run) => run.redisCpuMicrosPerDelivery === undefined)) return '–';
	return medianOf(runs, (run) => run.redisCpuMicrosPerDelivery ?? 0).toFixed(2);
}

/**
 * A markdown table of a scenario: per contender the medians over its rounds, the ratios of its
 * median deliveries/s to the baselines', and every lost or duplicated delivery summed over the
 * rounds. The redis-server's CPU per delivery is a column when a contender uses Redis.
 *
 * @example
 * console.log(scenarioTable(results, ['ws', 'socket.io']).join('\n'));
 */
export function scenarioTable(
	results: ReadonlyMap<string, readonly RunResult[]>,
	baselines: readonly string[]
): string[] {
	const withRedis = [...results.values()].some((runs) =>
		runs.some((run) => run.redisCpuMicrosPerDelivery !== undefined)
	);
	const headings = [
		'contender',
		'deliveries/s',
		...baselines.map((name) => `vs ${name}`),
		'p50 ms',
		'p99 ms',
		'server CPU µs/delivery',
		...(withRedis ? ['redis-server CPU µs/delivery'] : []),
		'server / load process CPU',
		'lost',
		'duplicated',
		'out of order',
		'closed',
		'k deliveries/s per round'
	];
	const lines = [
		`| ${headings.join(' | ')} |`,
		`|---|${headings
			.slice(1, -1)
			.map(() => '---:|')
			.join('')}---|`
	];
	for (const [name, runs] of results) {
		const total = (pick: (count: DeliveryCount) => number): number =>
			runs.reduce((sum, run) => sum + pick(run.count), 0);
		const cells = [
			name,
			Math.round(throughputOf(runs)).toLocaleString('en'),
			...baselines.map(
				(baseline) => `${(throughputOf(runs) / throughputOf(results.get(baseline))).toFixed(2)}×`
			),
			medianOf(runs, (run) => run.count.p50Ms).toFixed(1),
			medianOf(runs, (run) => run.count.p99Ms).toFixed(1),
			medianOf(runs, (run) => run.cpuMicrosPerDelivery).toFixed(2),
			...(withRedis ? [redisCpuOf(runs)] : []),
			`${percent(medianOf(runs, (run) => run.serverCpuShare))} / ${percent(medianOf(runs, (run) => run.loadCpuShare))}`,
			total((count) => count.lost),
			total((count) => count.duplicated),
			total((count) => count.outOfOrder),
			total((count) => count.closed),
			runs.map((run) => Math.round(run.deliveriesPerSecond / 1000)).join(' / ')
		];
		lines.push(`| ${cells.join(' | ')} |`);
	}
	return lines;
}

/**
 * One column of a series table: a scenario's label (its payload size or client count) and results.
 *
 * @example
 * const column: SeriesColumn = { label: '1 KB', results };
 */
export interface SeriesColumn {
	label: string;
	results: ReadonlyMap<string, readonly RunResult[]>;
}

/**
 * A markdown table that lines up, per contender, the median server CPU per delivery (and
 * deliveries/s) over the scenarios of a series, so one sees whether cost grows linearly: a flat
 * CPU per delivery means total cost linear in deliveries.
 *
 * @example
 * console.log(seriesTable('clients', columns).join('\n'));
 */
export function seriesTable(heading: string, columns: readonly SeriesColumn[]): string[] {
	const names = [...new Set(columns.flatMap((column) => [...column.results.keys()]))];
	const lines = [
		`| contender: server CPU µs/delivery (k deliveries/s) by ${heading} | ${columns.map((column) => column.label).join(' | ')} |`,
		`|---|${columns.map(() => '---:|').join('')}`
	];
	for (const name of names) {
		const cells = columns.map((column) => {
			const runs = column.results.get(name);
			if (!runs?.length) return '–';
			const cpu = medianOf(runs, (run) => run.cpuMicrosPerDelivery).toFixed(2);
			return `${cpu} (${Math.round(throughputOf(runs) / 1000)}k)`;
		});
		lines.push(`| ${name} | ${cells.join(' | ')} |`);
	}
	return lines;
}

/**
 * One scenario's results, as the summary and cluster tables read them.
 *
 * @example
 * const measured: ScenarioResults = { name: '100 clients, 1 room, 1 publish per turn', baselines: ['ws'], results };
 */
export interface ScenarioResults {
	name: string;
	/** The contenders this scenario's ratios are taken against. */
	baselines: readonly string[];
	results: ReadonlyMap<string, readonly RunResult[]>;
}

/** A ratio of one contender's medians to a baseline's, in one scenario. */
interface ScenarioRatio {
	scenario: string;
	throughput: number;
	cpu: number;
}

function cpuOf(runs: readonly RunResult[]): number {
	return medianOf(runs, (run) => run.cpuMicrosPerDelivery);
}

function ratiosAgainst(
	measured: readonly ScenarioResults[],
	contender: string,
	baseline: string
): ScenarioRatio[] {
	return measured.flatMap(({ name, baselines, results }) => {
		const runs = results.get(contender);
		const base = results.get(baseline);
		if (!runs?.length || !base?.length || !baselines.includes(baseline)) return [];
		return [
			{
				scenario: name,
				throughput: throughputOf(runs) / throughputOf(base),
				cpu: cpuOf(runs) / cpuOf(base)
			}
		];
	});
}

function extremes(
	ratios: readonly ScenarioRatio[],
	pick: (ratio: ScenarioRatio) => number
): string {
	const sorted = [...ratios].sort((a, b) => pick(a) - pick(b));
	const [low, high] = [sorted[0], sorted.at(-1)!];
	if (sorted.length == 1) return `${pick(low).toFixed(2)}× (${low.scenario})`;
	return `${pick(low).toFixed(2)}× (${low.scenario}) – ${pick(high).toFixed(2)}× (${high.scenario})`;
}

/**
 * The ranges a summary quotes, computed over every scenario of the run, so no summary can leave a
 * scenario out: per contender and baseline, the lowest and highest ratio of median deliveries/s
 * and of median server CPU per delivery, each with the scenario it comes from, and how many
 * scenarios the range covers.
 *
 * @example
 * console.log(summaryTable(measured, ['runesocket memory', 'runesocket redis']).join('\n'));
 */
export function summaryTable(
	measured: readonly ScenarioResults[],
	contenders: readonly string[]
): string[] {
	const baselines = [...new Set(measured.flatMap((scenario) => scenario.baselines))];
	const lines = [
		'| contender | against | scenarios | deliveries/s ratio: lowest – highest | server CPU per delivery ratio: lowest – highest |',
		'|---|---|---:|---|---|'
	];
	for (const contender of contenders) {
		for (const baseline of baselines) {
			if (baseline == contender) continue;
			const ratios = ratiosAgainst(measured, contender, baseline);
			if (!ratios.length) continue;
			lines.push(
				`| ${contender} | ${baseline} | ${ratios.length} | ${extremes(ratios, (ratio) => ratio.throughput)} | ${extremes(ratios, (ratio) => ratio.cpu)} |`
			);
		}
	}
	return lines;
}

/**
 * The scenarios that ran `cluster` beside `single` (the same engine on one redis-server) and
 * `baseline`, side by side: deliveries/s, the ratio to the baseline, and server and Redis CPU per
 * delivery (a cluster's is its nodes' sum).
 *
 * @example
 * console.log(clusterTable(measured, 'runesocket redis cluster', 'runesocket redis', 'ws').join('\n'));
 */
export function clusterTable(
	measured: readonly ScenarioResults[],
	cluster: string,
	single: string,
	baseline: string
): string[] {
	const lines = [
		`| scenario | contender | deliveries/s | vs ${baseline} | server µs/delivery | redis µs/delivery |`,
		'|---|---|---:|---:|---:|---:|'
	];
	for (const { name, results } of measured) {
		if (!results.get(cluster)?.length) continue;
		const base = results.get(baseline);
		[baseline, single, cluster].forEach((contender, index) => {
			const runs = results.get(contender);
			if (!runs?.length) return;
			const ratio = base?.length ? `${(throughputOf(runs) / throughputOf(base)).toFixed(2)}×` : '–';
			lines.push(
				`| ${index == 0 ? name : ''} | ${contender} | ${Math.round(throughputOf(runs)).toLocaleString('en')} | ${ratio} | ${cpuOf(runs).toFixed(2)} | ${redisCpuOf(runs)} |`
			);
		});
	}
	return lines.length > 2 ? lines : [];
}
