// `npm run bench`: every benchmark of runesocket beside its anchors, in one command. Each suite runs
// its contenders in interleaved rounds and prints Markdown tables (BENCHMARKS.md holds the latest).
// Options: --suites a,b (default all: sizes, throughput, connections, requests, conflation, storm,
// inbound, route, page), --rounds N (each suite's own default otherwise), for the throughput suite --scale F,
// --only a,b (contenders) and --scenarios a,b (scenario names containing one of these; "wire"
// picks the wire-bytes table), for the route and page suites --ref <commit> (default: the working
// tree) and --baseline <commit> (default BASELINE below; `none` skips it): the
// same measurements of that commit in the same run, so before → after tables need no other run.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runClientInbound } from './client-inbound/run.js';
import { runConflationBench } from './conflation/run.js';
import { runConnectionBenches } from './connections/run.js';
import { runPageBench } from './page/run.js';
import { runReconnectStorm } from './reconnect-storm/run.js';
import { runRequestBench } from './requests/run.js';
import { describeMachine, loadAverage } from './throughput/machine.js';
import { exitOnSignals } from './throughput/redis-server.js';
import { runThroughput } from './throughput/run.js';

/**
 * The commit the route and page suites measure beside the working tree: the demo before issue 12
 * (its page with SvelteKit's client, before the island, the sparklines and compression).
 */
const BASELINE = '9ff2e09';

const { values } = parseArgs({
	options: {
		suites: { type: 'string' },
		rounds: { type: 'string' },
		scale: { type: 'string', default: '1' },
		only: { type: 'string' },
		scenarios: { type: 'string' },
		ref: { type: 'string' },
		baseline: { type: 'string', default: BASELINE }
	}
});
const list = (text: string | undefined) => text?.split(',').map((part) => part.trim());
const rounds = (fallback: number) => (values.rounds ? Number(values.rounds) : fallback);

const baseline = values.baseline == 'none' ? undefined : values.baseline;

/** A script that prints its own tables, run in its own process (with `args`). */
function script(file: string, ...args: string[]): () => Promise<boolean> {
	return async () => {
		const path = fileURLToPath(new URL(file, import.meta.url));
		const { status } = spawnSync(process.execPath, ['--import', 'tsx', path, ...args], {
			stdio: 'inherit'
		});
		return status == 0;
	};
}

/** Runs `measure` for the working tree (or `--ref`), then for the baseline commit, under headings. */
function withBaseline(measure: (ref?: string) => Promise<boolean>): () => Promise<boolean> {
	return async () => {
		if (!baseline) return measure(values.ref);
		console.log(`## ${values.ref ? `Commit ${values.ref}` : 'The working tree'}\n`);
		const current = await measure(values.ref);
		console.log(`\n## Baseline: commit ${baseline}\n`);
		return (await measure(baseline)) && current;
	};
}

const suites: Record<string, { title: string; run: () => Promise<boolean> }> = {
	sizes: { title: 'Client bundle size', run: script('./client-size.ts') },
	throughput: {
		title: 'Server throughput',
		run: () =>
			runThroughput({
				rounds: rounds(3),
				scale: Number(values.scale),
				only: list(values.only),
				scenarios: list(values.scenarios)
			})
	},
	connections: {
		title: 'Idle memory per connection and connect rate',
		run: () => runConnectionBenches({ rounds: rounds(3) })
	},
	requests: {
		title: 'Request round trips, exactly-once keys included',
		run: () => runRequestBench({ rounds: rounds(3) })
	},
	conflation: {
		title: 'Slow readers and replays, with and without conflation',
		run: () => runConflationBench({ rounds: rounds(3) })
	},
	storm: {
		title: 'Reconnect storm',
		run: () => runReconnectStorm({ rounds: rounds(3) })
	},
	inbound: {
		title: "The client's inbound path",
		run: () => runClientInbound({ rounds: rounds(7) })
	},
	route: {
		title: "The dashboard route's JavaScript",
		run: withBaseline((ref) => script('./route-size.ts', ...(ref ? ['--ref', ref] : []))())
	},
	page: {
		title: 'The dashboard page as users meet it',
		run: withBaseline((ref) => runPageBench({ runs: rounds(3), ref }))
	}
};

const chosen = list(values.suites) ?? Object.keys(suites);
for (const name of chosen) {
	if (!suites[name]) throw new TypeError(`No suite "${name}" (known: ${Object.keys(suites)})`);
}

exitOnSignals();
const started = Date.now();
console.log(`$ npm run bench -- ${process.argv.slice(2).join(' ')}`.trimEnd());
console.log(
	`\n${new Date().toISOString()}: ${describeMachine()}, 1-minute load ${loadAverage()} at the start`
);
const failed: string[] = [];
for (const name of chosen) {
	const suite = suites[name];
	const suiteStarted = Date.now();
	console.log(`\n# ${suite.title}\n`);
	if (!(await suite.run())) failed.push(name);
	const minutes = ((Date.now() - suiteStarted) / 60_000).toFixed(1);
	console.log(`\n(${suite.title}: ${minutes} min, 1-minute load ${loadAverage()} after)`);
}
console.log(
	`\nWall time ${((Date.now() - started) / 60_000).toFixed(1)} min; 1-minute load ${loadAverage()} at the end.`
);
if (failed.length) {
	console.log(`\nFailed (or lost deliveries): ${failed.join(', ')}`);
	process.exitCode = 1;
}
