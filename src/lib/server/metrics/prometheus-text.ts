/**
 * The kinds of metric the exporter writes.
 */
export type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * One line of a metric family: an optional name suffix (`_bucket`, `_sum`, `_count`), its labels and
 * its value.
 */
export interface MetricSample {
	readonly suffix?: string;
	readonly labels?: Readonly<Record<string, string>>;
	readonly value: number;
}

/**
 * A metric with its help text, its type and its samples, as one block of the exposition.
 */
export interface MetricFamily {
	readonly name: string;
	readonly help: string;
	readonly type: MetricType;
	readonly samples: readonly MetricSample[];
}

/**
 * The `Content-Type` of Prometheus' text exposition format 0.0.4.
 */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * A `# HELP` text as the format wants it: backslashes and line feeds escaped.
 */
export function escapeHelp(text: string): string {
	return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/**
 * A label value as the format wants it between double quotes: backslashes, double quotes and line
 * feeds escaped.
 */
export function escapeLabelValue(value: string): string {
	return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/**
 * A sample value as the format spells it: `+Inf`, `-Inf` and `NaN` for the non-finite ones.
 */
export function formatValue(value: number): string {
	if (Number.isNaN(value)) return 'NaN';
	if (value == Infinity) return '+Inf';
	if (value == -Infinity) return '-Inf';
	return String(value);
}

function formatLabels(labels: Readonly<Record<string, string>> | undefined): string {
	if (!labels) return '';
	const pairs = Object.entries(labels).map(
		([name, value]) => `${name}="${escapeLabelValue(value)}"`
	);
	return pairs.length ? `{${pairs.join(',')}}` : '';
}

/**
 * Writes metric families in Prometheus' text exposition format 0.0.4: per family a `# HELP` and a
 * `# TYPE` line, then one line per sample; the text ends with a line feed.
 */
export function prometheusText(families: readonly MetricFamily[]): string {
	const lines: string[] = [];
	for (const { name, help, type, samples } of families) {
		lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
		for (const { suffix = '', labels, value } of samples) {
			lines.push(`${name}${suffix}${formatLabels(labels)} ${formatValue(value)}`);
		}
	}
	return lines.join('\n') + '\n';
}
