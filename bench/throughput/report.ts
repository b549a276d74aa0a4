import type { DeliveryCount } from './messages.js';
import { median } from './stats.js';

const percent = (share: number): string => `${Math.round(share * 100)}%`;

/**
 * One contender's result in one round of a scenario.
 *
 * @example
 * results.get('ws')?.push(await runOnce(running, plan));
 */
export interface RunResult {
	deliveriesPerSecond: number;
	cpuMicrosPerDelivery: number;
	/** The server's CPU time over the run's wall time: near 1, the server is the bottleneck. */
	serverCpuShare: number;
	/** The load process's CPU time over the run's wall time: near 1, the clients are the bottleneck. */
	loadCpuShare: number;
	count: DeliveryCount;
}

/**
 * A markdown table of a scenario: per contender the medians over its rounds, the ratios of its
 * median deliveries/s to the baselines', and every lost or duplicated delivery summed over the rounds.
 *
 * @example
 * console.log(scenarioTable(results, ['ws', 'socket.io']).join('\n'));
 */
export function scenarioTable(
	results: ReadonlyMap<string, readonly RunResult[]>,
	baselines: readonly string[]
): string[] {
	const medianOf = (runs: readonly RunResult[], pick: (run: RunResult) => number): number =>
		median(runs.map(pick));
	const throughput = (name: string): number =>
		medianOf(results.get(name) ?? [], (run) => run.deliveriesPerSecond);
	const lines = [
		`| contender | deliveries/s | ${baselines.map((name) => `vs ${name}`).join(' | ')} | p50 ms | p99 ms | server CPU µs/delivery | server / load process CPU | lost | duplicated | out of order | closed | k deliveries/s per round |`,
		`|---|---:|${baselines.map(() => '---:|').join('')}---:|---:|---:|---:|---:|---:|---:|---:|---|`
	];
	for (const [name, runs] of results) {
		const total = (pick: (count: DeliveryCount) => number): number =>
			runs.reduce((sum, run) => sum + pick(run.count), 0);
		const ratios = baselines.map(
			(baseline) => `${(throughput(name) / throughput(baseline)).toFixed(2)}×`
		);
		lines.push(
			[
				'',
				name,
				Math.round(throughput(name)).toLocaleString('en'),
				...ratios,
				medianOf(runs, (run) => run.count.p50Ms).toFixed(1),
				medianOf(runs, (run) => run.count.p99Ms).toFixed(1),
				medianOf(runs, (run) => run.cpuMicrosPerDelivery).toFixed(2),
				`${percent(medianOf(runs, (run) => run.serverCpuShare))} / ${percent(medianOf(runs, (run) => run.loadCpuShare))}`,
				total((count) => count.lost),
				total((count) => count.duplicated),
				total((count) => count.outOfOrder),
				total((count) => count.closed),
				runs.map((run) => Math.round(run.deliveriesPerSecond / 1000)).join(' / '),
				''
			]
				.join(' | ')
				.trim()
		);
	}
	return lines;
}
