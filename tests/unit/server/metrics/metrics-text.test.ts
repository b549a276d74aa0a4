import { describe, expect, it } from 'vitest';
import {
	closeCodeLabel,
	Histogram,
	metricFamilies,
	ServerMetrics,
	type ServerMetricsSnapshot
} from '../../../../src/lib/server/metrics/metrics.js';
import {
	escapeHelp,
	escapeLabelValue,
	formatValue,
	prometheusText
} from '../../../../src/lib/server/metrics/prometheus-text.js';

describe('Prometheus text format', () => {
	it('escapes backslashes and line feeds in help texts, and leaves double quotes alone', () => {
		expect(escapeHelp('a\\b\nc "d"')).toBe('a\\\\b\\nc "d"');
	});

	it('escapes backslashes, double quotes and line feeds in label values', () => {
		expect(escapeLabelValue('/ws/"x"\\y\nz')).toBe('/ws/\\"x\\"\\\\y\\nz');
	});

	it('spells non-finite values as the format does', () => {
		expect([Infinity, -Infinity, NaN, 0.25, 3].map(formatValue)).toEqual([
			'+Inf',
			'-Inf',
			'NaN',
			'0.25',
			'3'
		]);
	});

	it('writes HELP, TYPE and one line per sample, with escaped labels, ending with a line feed', () => {
		const text = prometheusText([
			{
				name: 'runesocket_connections_open',
				help: 'Open connections\nby route.',
				type: 'gauge',
				samples: [
					{ labels: { route: '/ws' }, value: 2 },
					{ labels: { route: '/a"b' }, value: 0 }
				]
			},
			{ name: 'runesocket_up', help: 'Up.', type: 'counter', samples: [{ value: 1 }] }
		]);
		expect(text).toBe(
			[
				'# HELP runesocket_connections_open Open connections\\nby route.',
				'# TYPE runesocket_connections_open gauge',
				'runesocket_connections_open{route="/ws"} 2',
				'runesocket_connections_open{route="/a\\"b"} 0',
				'# HELP runesocket_up Up.',
				'# TYPE runesocket_up counter',
				'runesocket_up 1',
				''
			].join('\n')
		);
	});
});

describe('Histogram', () => {
	it('counts each observation in the first bucket whose bound holds it, cumulated when read', () => {
		const histogram = new Histogram([0.01, 0.1, 1]);
		for (const value of [0.005, 0.01, 0.05, 0.5, 7]) histogram.observe(value);
		const { buckets, sum, count } = histogram.snapshot();
		expect(buckets).toEqual([
			{ le: 0.01, count: 2 },
			{ le: 0.1, count: 3 },
			{ le: 1, count: 4 },
			{ le: Infinity, count: 5 }
		]);
		expect(count).toBe(5);
		expect(sum).toBeCloseTo(7.565);
	});
});

describe('metricFamilies', () => {
	function snapshot(metrics: ServerMetrics): ServerMetricsSnapshot {
		metrics.unrecoverableWhileStreaming = 2;
		return metrics.snapshot({ '/ws\n"x"': 1 }, false);
	}

	it('names every family runesocket_…, labels by bounded keys and writes the histogram Prometheus-style', () => {
		const metrics = new ServerMetrics();
		metrics.authRefused(4001);
		metrics.authRefused(4001);
		metrics.upgradeRefused('origin');
		metrics.publishDuration.observe(0.003);
		const families = metricFamilies(snapshot(metrics));
		expect(families.every((family) => family.name.startsWith('runesocket_'))).toBe(true);
		const text = prometheusText(families);
		expect(text).toContain('runesocket_connections_open{route="/ws\\n\\"x\\""} 1\n');
		expect(text).toContain('runesocket_auth_refused_total{code="4001"} 2\n');
		expect(text).toContain('runesocket_upgrades_refused_total{reason="origin"} 1\n');
		expect(text).toContain('runesocket_rooms_unrecoverable_total{during="stream"} 2\n');
		expect(text).toContain('runesocket_engine_healthy 0\n');
		expect(text).toContain('runesocket_publish_duration_seconds_bucket{le="0.0025"} 0\n');
		expect(text).toContain('runesocket_publish_duration_seconds_bucket{le="0.005"} 1\n');
		expect(text).toContain('runesocket_publish_duration_seconds_bucket{le="+Inf"} 1\n');
		expect(text).toContain('runesocket_publish_duration_seconds_count 1\n');
		expect(text).toContain('# TYPE runesocket_publish_duration_seconds histogram\n');
	});

	it('counts repeats of request keys by route and outcome, and unavailable keys by route', () => {
		const metrics = new ServerMetrics();
		metrics.requestRepeated('/ws', 'answered');
		metrics.requestRepeated('/ws', 'answered');
		metrics.requestRepeated('/ws', 'waited');
		metrics.requestRepeated('/admin', 'waited');
		metrics.requestKeyUnavailable('/ws');
		const { requestRepeats, requestKeysUnavailable } = snapshot(metrics);
		expect(requestRepeats).toEqual({ '/ws': { answered: 2, waited: 1 }, '/admin': { waited: 1 } });
		expect(requestKeysUnavailable).toEqual({ '/ws': 1 });
		const text = prometheusText(metricFamilies(snapshot(metrics)));
		expect(text).toContain('# TYPE runesocket_request_repeats_total counter\n');
		expect(text).toContain('runesocket_request_repeats_total{route="/ws",outcome="answered"} 2\n');
		expect(text).toContain('runesocket_request_repeats_total{route="/ws",outcome="waited"} 1\n');
		expect(text).toContain('runesocket_request_repeats_total{route="/admin",outcome="waited"} 1\n');
		expect(text).toContain('runesocket_request_keys_unavailable_total{route="/ws"} 1\n');
	});
});

describe('closeCodeLabel', () => {
	it('labels the codes runesocket knows as they are, and a peer\'s own codes as "other"', () => {
		for (const code of [1000, 1001, 1002, 1003, 1005, 1006, 1008, 1009, 1011, 1013, 4001, 4003]) {
			expect(closeCodeLabel(code, false)).toBe(String(code));
		}
		for (const code of [1004, 1015, 2999, 3000, 3999, 4000, 4004, 4999, 5000, 1000.5, NaN]) {
			expect(closeCodeLabel(code, false)).toBe('other');
		}
	});

	it("labels an application's 4xxx code as it is when the server closed with it", () => {
		expect(closeCodeLabel(4321, true)).toBe('4321');
		expect(closeCodeLabel(4000, true)).toBe('4000');
		expect(closeCodeLabel(3000, true)).toBe('other');
		expect(closeCodeLabel(1013, true)).toBe('1013');
	});
});
