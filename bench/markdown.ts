// The pieces of a benchmark's Markdown report that more than one suite writes the same way.

/** A count with thousands separators, rounded: `12,345`. */
export const whole = (value: number): string => Math.round(value).toLocaleString('en-US');

/** `value` against `baseline` as `1.23×`, or `—` when there is no baseline. */
export function ratio(value: number, baseline: number | undefined): string {
	return baseline ? `${(value / baseline).toFixed(2)}×` : '—';
}

/** A Markdown table: the header row, its rule, then one line per row. */
export function table(header: string[], rows: string[][]): string[] {
	return [
		`| ${header.join(' | ')} |`,
		`| ${header.map(() => '---').join(' | ')} |`,
		...rows.map((row) => `| ${row.join(' | ')} |`)
	];
}
