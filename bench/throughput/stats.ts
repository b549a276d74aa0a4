/**
 * The value below which `fraction` of the sorted values lie (nearest rank); NaN when empty.
 *
 * @example
 * percentile([1, 2, 3, 4], 0.5); // 2
 */
export function percentile(sorted: ArrayLike<number>, fraction: number): number {
	if (sorted.length == 0) return Number.NaN;
	const rank = Math.ceil(fraction * sorted.length) - 1;
	return sorted[Math.min(sorted.length - 1, Math.max(0, rank))];
}

/**
 * The median of unsorted values.
 *
 * @example
 * median([3, 1, 2]); // 2
 */
export function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	if (sorted.length == 0) return Number.NaN;
	const middle = sorted.length >> 1;
	return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}
