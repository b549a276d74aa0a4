import { CHECKS_KEPT, type Check } from '$demo/messages';

/** What a sparkline draws of a monitor's checks, in the coordinates of its viewBox. */
export interface SparklineShape {
	/** The response times: one stroke per run of consecutive answered checks, a dot for a lone one. */
	path: string;
	/** Where checks got no answer. */
	misses: number[];
}

/**
 * Of a monitor's checks (oldest first, `seq` rising), those of the last `CHECKS_KEPT` check numbers
 * up to the newest: what its card shows. Fewer than `CHECKS_KEPT` where this page never got some.
 *
 * @example
 * lastChecks([{ at: 1, ms: 80, seq: 1 }, { at: 9, ms: 90, seq: 90 }]); // the one of seq 90
 */
export function lastChecks(checks: readonly Check[]): Check[] {
	const newest = checks.at(-1)?.seq ?? 0;
	return checks.filter((check) => check.seq > newest - CHECKS_KEPT);
}

/**
 * How many check numbers between the first and the last of `checks` (`lastChecks`) this page never
 * got: conflated while it was behind, or in the replay after it was away.
 *
 * @example
 * skippedChecks([{ at: 1, ms: 80, seq: 4 }, { at: 9, ms: 90, seq: 9 }]); // 4
 */
export function skippedChecks(checks: readonly Check[]): number {
	return checks.length ? checks.at(-1)!.seq - checks[0]!.seq + 1 - checks.length : 0;
}

/**
 * Draws checks (oldest first, `seq` rising; `lastChecks`) each where its number puts it: a check
 * this page never got leaves its place empty and breaks the line, so the gap shows instead of a
 * line joining checks that were not consecutive. A response time is drawn from `height - 2` (none)
 * up to 2 (the scale's `top`).
 *
 * @example
 * const { path } = drawChecks([{ at: 1, ms: 80, seq: 1 }, { at: 2, ms: 90, seq: 2 }], { width: 120, height: 32, top: 100 });
 */
export function drawChecks(
	checks: readonly Check[],
	{ width, height, top }: { width: number; height: number; top: number }
): SparklineShape {
	const first = checks[0]?.seq ?? 0;
	const span = (checks.at(-1)?.seq ?? 0) - first;
	const x = (seq: number) => (span == 0 ? width : ((seq - first) / span) * width);
	const y = (ms: number) => height - 2 - (ms / top) * (height - 4);
	const point = (seq: number, ms: number) => `${x(seq).toFixed(1)} ${y(ms).toFixed(1)}`;

	let path = '';
	checks.forEach((check, index) => {
		if (check.ms === null) return;
		const before = checks[index - 1];
		const after = checks[index + 1];
		const joinsBefore = before?.ms != null && before.seq == check.seq - 1;
		const joinsAfter = after?.ms != null && after.seq == check.seq + 1;
		if (joinsBefore) path += `L${point(check.seq, check.ms)}`;
		// A lone check is a dot: a stroke of almost no length, which the round cap draws.
		else path += `M${point(check.seq, check.ms)}${joinsAfter ? '' : 'h0.01'}`;
	});
	return {
		path,
		misses: checks.flatMap((check) => (check.ms === null ? [x(check.seq)] : []))
	};
}
