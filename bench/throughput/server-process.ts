// A child process that runs one contender's server and publishes a run's messages when told to:
// `fork('server-process.ts', [contenderName, redisPrefix])`, then ServerCommand / ServerReport over
// IPC. A contender on Redis uses the bench's redis-server (BENCH_REDIS_URL) or Redis Cluster
// (BENCH_REDIS_CLUSTER_URL) under `redisPrefix`.
import { contenderNamed } from './contenders.js';
import { nowMicros, type RunPlan, type ServerCommand, type ServerReport } from './messages.js';
import type { BenchServer } from './servers/bench-server.js';

function report(message: ServerReport): void {
	process.send?.(message);
}

/** Publishes the plan turn by turn: `publishesPerTurn` publishes, their promises, then a new turn. */
async function publishPlan(server: BenchServer, plan: RunPlan): Promise<void> {
	const nextSeq = new Map(plan.rooms.map((room) => [room, 0]));
	let published = 0;
	while (published < plan.publishes) {
		const pending: Promise<unknown>[] = [];
		const turnEnd = Math.min(plan.publishes, published + plan.publishesPerTurn);
		for (; published < turnEnd; published++) {
			const room = plan.rooms[published % plan.rooms.length];
			const seq = nextSeq.get(room) ?? 0;
			nextSeq.set(room, seq + 1);
			const result = server.publish(room, { seq, t: nowMicros(), pad: plan.padding });
			if (result) pending.push(result);
		}
		await Promise.all(pending);
		await new Promise<void>((resolve) => setImmediate(resolve));
	}
}

const contender = contenderNamed(process.argv[2] ?? '');
const redisUrl =
	contender.redis == 'cluster' ? process.env.BENCH_REDIS_CLUSTER_URL : process.env.BENCH_REDIS_URL;
const server = await contender.start(
	redisUrl ? { url: redisUrl, prefix: process.argv[3] ?? 'bench:' } : undefined
);
let cpuAtStart = process.cpuUsage();
report({ type: 'listening', port: server.port, version: server.version });

process.on('message', (command: ServerCommand) => {
	if (command.type == 'publish') {
		cpuAtStart = process.cpuUsage();
		const startedAt = nowMicros();
		publishPlan(server, command.plan).then(
			() => report({ type: 'published', startedAt, endedAt: nowMicros() }),
			(error: unknown) => report({ type: 'failed', error: String(error) })
		);
	} else if (command.type == 'mark') {
		cpuAtStart = process.cpuUsage();
		report({ type: 'marked' });
	} else if (command.type == 'measure') {
		const cpu = process.cpuUsage(cpuAtStart);
		report({ type: 'measured', cpuMicros: cpu.user + cpu.system });
	} else {
		void server.close().finally(() => process.exit(0));
	}
});
// The orchestrator is gone (it crashed or was killed): nothing will tell this process to exit.
process.on('disconnect', () => process.exit(1));
