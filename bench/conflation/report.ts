import { ratio, table, whole } from '../markdown.js';
import { median } from '../throughput/stats.js';
import type { FanOutResult } from './fan-out.js';
import type { BacklogSample } from './messages.js';
import type { ReplayContender, ReplayResult } from './replay.js';

const KIB = 1024;
const kib = (bytes: number): string => `${whole(bytes / KIB)} KiB`;
const ms = (value: number): string => (value < 10 ? value.toFixed(1) : whole(value));
const seconds = (msValue: number): string => `${(msValue / 1000).toFixed(1)} s`;
const perRound = (values: number[], format: (value: number) => string): string =>
	values.map(format).join(' / ');

/** The highest backlog among the samples in [from, to) ms of the run. */
function peak(samples: BacklogSample[], from: number, to: number): number {
	return Math.max(0, ...samples.filter((s) => s.ms >= from && s.ms < to).map((s) => s.bytes));
}

/**
 * Whether the server closed the slow reader (with the code it decided, when, and the code the
 * reader saw once it read up to the close), in how many of the runs.
 */
function closedCell(runs: FanOutResult[]): string {
	const closed = runs.filter((run) => run.server.closedAtMs !== undefined);
	if (!closed.length) return `no (0/${runs.length})`;
	const codes = (pick: (run: FanOutResult) => number | undefined): string =>
		[...new Set(closed.map((run) => pick(run) ?? '?'))].join(', ');
	const when = median(closed.map((run) => run.server.closedAtMs!));
	return `${codes((run) => run.server.closeCode)} at ${seconds(when)}, the reader saw ${codes((run) => run.slow?.closeCode)} (${closed.length}/${runs.length})`;
}

function convergedCell(runs: FanOutResult[]): string {
	const converged = runs.filter((run) => run.slow?.converged);
	if (!converged.length) return `no (0/${runs.length})`;
	const within = median(converged.map((run) => run.slow!.ms));
	const inOrder = converged.every((run) => run.slow!.inOrder) ? '' : ', OFFSETS OUT OF ORDER';
	return `yes, in ${ms(within)} ms (${converged.length}/${runs.length}${inOrder})`;
}

/**
 * The fast readers' table: per run, medians over rounds of their latency and of the server's CPU
 * per delivery to them, with ratios against the run without a slow reader and every round's
 * figure, how long the paced publishes took (the pace held if it is the plan's length), and what
 * they lost or got twice.
 *
 * @example
 * console.log(fastReadersTable(results).join('\n'));
 */
export function fastReadersTable(results: Map<string, FanOutResult[]>): string[] {
	const anchor = results.get('no slow reader') ?? [];
	const anchorOf = (pick: (run: FanOutResult) => number): number | undefined =>
		anchor.length ? median(anchor.map(pick)) : undefined;
	const p99 = (run: FanOutResult): number => run.count.p99Ms;
	const cpu = (run: FanOutResult): number => run.cpuPerDelivery;
	const header = [
		'run',
		'p50 ms',
		'p99 ms',
		'p99 vs no slow reader',
		'server CPU µs/delivery',
		'CPU vs no slow reader',
		'p99 ms per round',
		'CPU µs per round',
		'publishing took',
		'lost / duplicated'
	];
	const rows = [...results].map(([name, runs]) => {
		if (!runs.length) return [name, 'failed', ...header.slice(2).map(() => '—')];
		const sum = (pick: (run: FanOutResult) => number): string =>
			whole(runs.reduce((total, run) => total + pick(run), 0));
		return [
			name,
			ms(median(runs.map((run) => run.count.p50Ms))),
			ms(median(runs.map(p99))),
			ratio(median(runs.map(p99)), anchorOf(p99)),
			median(runs.map(cpu)).toFixed(2),
			ratio(median(runs.map(cpu)), anchorOf(cpu)),
			perRound(runs.map(p99), ms),
			perRound(runs.map(cpu), (value) => value.toFixed(2)),
			seconds(median(runs.map((run) => run.publishMs))),
			`${sum((run) => run.count.lost)} / ${sum((run) => run.count.duplicated)}`
		];
	});
	return table(header, rows);
}

/**
 * The slow reader's table: per run with one, medians over rounds of whether the server closed it,
 * its backlog once filled and its peak in each half of the run, the messages conflated, and whether
 * (how fast, with how many messages) it converged once it read freely after the load.
 *
 * @example
 * console.log(slowReaderTable(results, 16).join('\n'));
 */
export function slowReaderTable(
	results: Map<string, FanOutResult[]>,
	runSeconds: number
): string[] {
	const half = (runSeconds * 1000) / 2;
	const header = [
		'run',
		'closed by the server',
		'backlog after the fill',
		'backlog peak, 1st half',
		'backlog peak, 2nd half',
		'conflated',
		'converged after the load',
		'room messages it got after the load'
	];
	const rows = [...results]
		.filter(([, runs]) => runs.some((run) => run.slow))
		.map(([name, runs]) => {
			const backlog = (pick: (run: FanOutResult) => number): string => kib(median(runs.map(pick)));
			return [
				name,
				closedCell(runs),
				runs.some((run) => run.prefilled) ? backlog((run) => run.prefilled?.backlog ?? 0) : '—',
				backlog((run) => peak(run.server.backlog, 0, half)),
				backlog((run) => peak(run.server.backlog, half, Infinity)),
				whole(median(runs.map((run) => run.server.conflated))),
				convergedCell(runs),
				whole(median(runs.map((run) => run.slow?.messages ?? 0)))
			];
		});
	return table(header, rows);
}

/**
 * The replay table: per contender, medians over rounds of the time from the rejoin's join until it
 * was answered (the history read), and the time and bytes until the client held the newest check
 * of every monitor and every unkeyed message (or until it was closed), with ratios against the same
 * engine's replay before conflation with a raised limit (the one that completes), the room messages
 * it got and the server's CPU time meanwhile.
 *
 * @example
 * console.log(replayTable(results, replayContenders).join('\n'));
 */
export function replayTable(
	results: Map<string, ReplayResult[]>,
	contenders: readonly ReplayContender[]
): string[] {
	const header = [
		'replay',
		'caught up',
		'join answered ms',
		'time to catch up ms',
		'vs before',
		'bytes received',
		'vs before',
		'messages received',
		'server CPU ms',
		'ms per round'
	];
	const completedBefore = (engine: string): ReplayResult[] | undefined => {
		const before = contenders.find((c) => c.engine == engine && !c.keyed && c.maxBufferedBytes);
		return before && results.get(before.name);
	};
	const rows = contenders.map((contender) => {
		const runs = results.get(contender.name) ?? [];
		if (!runs.length) return [contender.name, 'failed', ...header.slice(2).map(() => '—')];
		const converged = runs.filter((run) => run.reader.converged).length;
		const codes = [...new Set(runs.flatMap((run) => run.reader.closeCode ?? []))];
		const caughtUp =
			converged == runs.length
				? `yes (${converged}/${runs.length})`
				: `no (${converged}/${runs.length})${codes.length ? `: closed ${codes.join(', ')}` : ''}`;
		const before = completedBefore(contender.engine);
		const medianOf = (list: ReplayResult[], pick: (run: ReplayResult) => number): number =>
			median(list.map(pick));
		const time = (run: ReplayResult): number => run.reader.ms;
		const bytes = (run: ReplayResult): number => run.reader.bytes;
		// A replay closed midway has no time or bytes to catch up to compare.
		const baseline = (pick: (run: ReplayResult) => number): number | undefined =>
			before?.length && converged == runs.length ? medianOf(before, pick) : undefined;
		return [
			contender.name,
			caughtUp,
			ms(medianOf(runs, (run) => run.reader.answeredMs ?? Number.NaN)),
			`${ms(medianOf(runs, time))}${converged < runs.length ? ' (until closed)' : ''}`,
			ratio(medianOf(runs, time), baseline(time)),
			kib(medianOf(runs, bytes)),
			ratio(medianOf(runs, bytes), baseline(bytes)),
			whole(medianOf(runs, (run) => run.reader.messages)),
			ms(medianOf(runs, (run) => run.serverCpuMs)),
			perRound(runs.map(time), ms)
		];
	});
	return table(header, rows);
}
