// A child process that runs runesocket's server for the conflation suite and publishes monitor checks
// when told to: `fork('server-process.ts', [serverSetupJson, redisPrefix])`, then ServerCommand /
// ServerReport over IPC. On Redis it uses BENCH_REDIS_URL under `redisPrefix`.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClientMessage } from '../../src/lib/index.js';
import { RedisEngine } from '../../src/lib/redis/index.js';
import {
	createSocketServer,
	MemoryEngine,
	type Connection,
	type Engine
} from '../../src/lib/server/index.js';
import { packageVersion } from '../throughput/servers/package-version.js';
import { checkOf, isUnkeyed } from './checks.js';
import {
	TICK,
	WATCHED_PARAMETER,
	type BacklogSample,
	type CheckData,
	type ServerSetup,
	type PublishPlan,
	type ServerCommand,
	type ServerReport
} from './messages.js';

const ROUTE = '/ws';
const HISTORY_TTL_MS = 10 * 60_000;
/** How often the watched connection's backlog is read during a measured run. */
const SAMPLE_MS = 100;
/** Pace of a paced run: due publishes go out every this many ms. */
const PACE_MS = 5;
/** Publishes per turn of a run that is not paced. */
const UNPACED_BATCH = 200;
/** Non-room messages that fill the watched connection's socket before a run. */
const FILL = 'x'.repeat(60_000);
/** A socket that took this much without refusing is not filling: something is wrong. */
const MAX_FILL_BYTES = 256 * 2 ** 20;

const Check = ClientMessage.define<CheckData>(TICK, { conflationKey: (check) => check.key });

function report(message: ServerReport): void {
	process.send?.(message);
}

function engineOf(setup: ServerSetup): Engine {
	const history = setup.historySize ? { size: setup.historySize, ttl: HISTORY_TTL_MS } : undefined;
	if (setup.engine == 'memory') return new MemoryEngine({ history });
	const url = process.env.BENCH_REDIS_URL;
	if (!url) throw new Error('runesocket on Redis needs BENCH_REDIS_URL');
	return new RedisEngine({ redis: url, prefix: process.argv[3] ?? 'bench:', history });
}

const setup = JSON.parse(process.argv[2] ?? '{}') as ServerSetup;
let watched: Connection<unknown> | undefined;
const sockets = createSocketServer({
	engine: engineOf(setup),
	routes: [
		{
			path: ROUTE,
			origins: 'any',
			rateLimit: false,
			maxBufferedBytes: setup.maxBufferedBytes,
			onConnect(connection) {
				const url = new URL(connection.req.url ?? '/', 'http://localhost');
				if (url.searchParams.has(WATCHED_PARAMETER)) watched = connection;
			}
		}
	]
});
const http = createServer((_, response) => response.writeHead(404).end());
sockets.attach(http);
await Promise.all([
	sockets.ready(),
	new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
]);

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Sends the watched connection 60 KB non-room messages, each once the previous one was written (at
 * its turn's end), until its socket refuses to take more (its backlog is no longer 0): from then on
 * it is behind, as a reader that has been slow for a while is, whatever the kernel's buffers hold.
 */
async function prefill(): Promise<{ bytes: number; backlog: number }> {
	const connection = watched;
	if (!connection) throw new Error('No watched connection to fill');
	let bytes = 0;
	while (connection.bufferedBytes == 0) {
		if (bytes > MAX_FILL_BYTES) throw new Error(`The socket took ${bytes} B without refusing`);
		connection.send({ name: 'fill', data: FILL });
		bytes += FILL.length;
		await nextTurn();
	}
	return { bytes, backlog: connection.bufferedBytes };
}

function publishOne(plan: PublishPlan, seq: number): Promise<unknown> {
	const unkeyed = !plan.keyed || isUnkeyed(seq, plan.unkeyedEvery);
	return sockets.publish(Check, checkOf(plan, seq), {
		room: plan.room,
		...(unkeyed ? { conflationKey: null } : {})
	});
}

/** Publishes a plan at its pace (or as fast as the engine takes it), its publishes awaited per turn. */
async function publish(plan: PublishPlan): Promise<void> {
	const started = performance.now();
	let seq = 0;
	while (seq < plan.messages) {
		const due = plan.perSecond
			? Math.floor(((performance.now() - started) / 1000) * plan.perSecond) + 1
			: seq + UNPACED_BATCH;
		const pending: Promise<unknown>[] = [];
		for (const end = Math.min(plan.messages, due); seq < end; seq++) {
			pending.push(publishOne(plan, seq));
		}
		await Promise.all(pending);
		await (plan.perSecond ? sleep(PACE_MS) : nextTurn());
	}
}

/** Counts the CPU time, and watches the watched connection, from a run's start to its measure. */
class Measure {
	readonly #cpu = process.cpuUsage();
	readonly #started = performance.now();
	readonly #backlog: BacklogSample[] = [];
	readonly #timer: ReturnType<typeof setInterval>;
	readonly #conflatedBefore = conflatedSoFar();
	readonly #closesBefore = sockets.metricsSnapshot().slowConsumerCloses;
	#closedAtMs: number | undefined;
	#closeCode: number | undefined;

	constructor() {
		this.#timer = setInterval(() => this.#sample(), SAMPLE_MS);
	}

	#sample(): void {
		if (!watched || this.#closedAtMs !== undefined) return;
		const ms = performance.now() - this.#started;
		if (!watched.isOpen) {
			this.#closedAtMs = ms;
			this.#closeCode = watched.closeCodeDecided;
		} else this.#backlog.push({ ms, bytes: watched.bufferedBytes });
	}

	end(): Extract<ServerReport, { type: 'measured' }> {
		this.#sample();
		clearInterval(this.#timer);
		const cpu = process.cpuUsage(this.#cpu);
		return {
			type: 'measured',
			run: {
				cpuMicros: cpu.user + cpu.system,
				backlog: this.#backlog,
				closedAtMs: this.#closedAtMs,
				closeCode: this.#closeCode,
				conflated: conflatedSoFar() - this.#conflatedBefore,
				slowConsumerCloses: sockets.metricsSnapshot().slowConsumerCloses - this.#closesBefore
			}
		};
	}
}

function conflatedSoFar(): number {
	return sockets.metricsSnapshot().messagesConflated[ROUTE] ?? 0;
}

let measure: Measure | undefined;
const fail = (error: unknown): void => report({ type: 'failed', error: String(error) });

process.on('message', (command: ServerCommand) => {
	if (command.type == 'prefill') {
		prefill().then((filled) => report({ type: 'prefilled', ...filled }), fail);
	} else if (command.type == 'publish') {
		if (command.measured) measure = new Measure();
		const started = performance.now();
		publish(command.plan).then(
			() => report({ type: 'published', ms: performance.now() - started }),
			fail
		);
	} else if (command.type == 'mark') {
		measure = new Measure();
		report({ type: 'marked' });
	} else if (command.type == 'measure') {
		if (!measure) return fail(new Error('measure without a mark'));
		report(measure.end());
		measure = undefined;
		watched = undefined;
	} else {
		void sockets
			.close()
			.then(() => new Promise((resolve) => http.close(resolve)))
			.finally(() => process.exit(0));
	}
});
// The orchestrator is gone (it crashed or was killed): nothing will tell this process to exit.
process.on('disconnect', () => process.exit(1));
report({
	type: 'listening',
	port: (http.address() as AddressInfo).port,
	version: `runesocket (working tree) on ws ${packageVersion('ws')}`
});
