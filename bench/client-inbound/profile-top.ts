// The top self-time functions of a V8 CPU profile, overall and in runesocket's own code (src/lib).
// Profile the inbound path of SocketClient alone, then summarise:
//   node --cpu-prof --cpu-prof-dir=/tmp/inbound-prof --import tsx bench/client-inbound/run.ts --only client --rounds 30
//   npx tsx bench/client-inbound/profile-top.ts /tmp/inbound-prof/*.cpuprofile
import { readFileSync } from 'node:fs';

interface ProfileNode {
	id: number;
	callFrame: { functionName: string; url: string; lineNumber: number };
}

interface CpuProfile {
	nodes: ProfileNode[];
	samples: number[];
	timeDeltas: number[];
}

const LISTED = 15;
/** runesocket's code: src/lib through tsx, or the bench's bundle of it (bundled-client.ts). */
const OURS = ['src/lib/', 'runesocket-inbound-'];

/** Self time in µs per function (name, file and line), from the samples and their time deltas. */
function selfTimes(profile: CpuProfile): Map<string, number> {
	const names = new Map(
		profile.nodes.map(({ id, callFrame: { functionName, url, lineNumber } }) => {
			const file = url
				.replace(/^.*?(src\/lib\/|node_modules\/)/, '$1')
				.replace(/^.*\/(runesocket-inbound-)[^/]*\//, '$1bundle/');
			return [id, `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`];
		})
	);
	const times = new Map<string, number>();
	profile.samples.forEach((id, index) => {
		const name = names.get(id) ?? '?';
		times.set(name, (times.get(name) ?? 0) + (profile.timeDeltas[index] ?? 0));
	});
	return times;
}

function printTop(title: string, times: [string, number][], total: number): void {
	console.log(`\n| ${title} | self ms | share of busy samples |`);
	console.log('|---|---|---|');
	for (const [name, micros] of times.slice(0, LISTED)) {
		console.log(
			`| ${name} | ${(micros / 1000).toFixed(1)} | ${((100 * micros) / total).toFixed(1)}% |`
		);
	}
}

for (const file of process.argv.slice(2)) {
	const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
	const times = [...selfTimes(profile)]
		.filter(([name]) => !name.startsWith('(idle)'))
		.sort((a, b) => b[1] - a[1]);
	const total = profile.timeDeltas.reduce((sum, micros) => sum + micros, 0);
	const idle = [...selfTimes(profile)].find(([name]) => name.startsWith('(idle)'))?.[1] ?? 0;
	console.log(
		`${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(idle / 1000).toFixed(0)} ms idle`
	);
	printTop('function (all code)', times, total - idle);
	const ours = times.filter(([name]) => OURS.some((part) => name.includes(part)));
	printTop('function (runesocket)', ours, total - idle);
}
