// `npm run bench`: throughput of runesocket's server side by side with raw ws and Socket.IO, each
// server and its load clients in their own processes on 127.0.0.1, contenders interleaved per round.
// Options: --rounds N (default 3), --scale F (publishes per run × F, default 1), --only a,b (contenders).
import { parseArgs } from 'node:util';
import { contenderNamed, contenders } from './throughput/contenders.js';
import { describeMachine, loadAverage } from './throughput/machine.js';
import { scenarioTable } from './throughput/report.js';
import { runScenario } from './throughput/run-scenario.js';
import { scenarios } from './throughput/scenarios.js';
import { packageVersion } from './throughput/servers/package-version.js';

const { values } = parseArgs({
	options: {
		rounds: { type: 'string', default: '3' },
		scale: { type: 'string', default: '1' },
		only: { type: 'string' }
	}
});
const rounds = Number(values.rounds);
const scale = Number(values.scale);
const chosen = values.only ? values.only.split(',').map(contenderNamed) : contenders;
const baselines = ['ws', 'socket.io'].filter((name) =>
	chosen.some((contender) => contender.name == name)
);

console.log(
	`# npm run bench -- --rounds ${rounds} --scale ${scale}${values.only ? ` --only ${values.only}` : ''}`
);
console.log(describeMachine());
console.log(
	`ws ${packageVersion('ws')}, socket.io ${packageVersion('socket.io')}, socket.io-client ${packageVersion('socket.io-client')}; ${rounds} interleaved rounds, medians`
);
let lossSeen = false;
for (const scenario of scenarios) {
	const loadBefore = loadAverage();
	const started = Date.now();
	const results = await runScenario(scenario, chosen, { rounds, scale });
	console.log(
		`\n## ${scenario.name}, ~${scenario.payloadBytes} B payload (load ${loadBefore} → ${loadAverage()}, ${((Date.now() - started) / 1000).toFixed(0)} s)\n`
	);
	console.log(scenarioTable(results, baselines).join('\n'));
	for (const [name, runs] of results) {
		runs.forEach((run, round) => {
			const { lost, duplicated, clientsWithGaps, closed } = run.count;
			if (lost || duplicated) {
				lossSeen = true;
				console.log(
					`LOSS: ${name}, round ${round + 1}: ${lost} lost, ${duplicated} duplicated, in ${clientsWithGaps} clients; ${closed} clients closed`
				);
			}
		});
	}
}
if (lossSeen) {
	console.log(
		'\nDeliveries were lost or duplicated (see LOSS above): these numbers are not valid.'
	);
	process.exitCode = 1;
}
