import { Child } from '../child.js';
import { paddingFor } from './checks.js';
import type {
	Goal,
	PublishPlan,
	ReaderCommand,
	ReaderReport,
	ReaderResult,
	ServerCommand,
	ServerReport,
	ServerSetup
} from './messages.js';

/**
 * The sizes of a replay run: monitors, the keyed checks published while the client is away, one
 * unkeyed message after every `unkeyedEvery - 1` keyed ones, bytes of each check's data, and the
 * history each room keeps (more than all of them, so the client's position is still in it).
 *
 * @example
 * const plan: ReplayPlan = { keys: 200, keyedMessages: 20_000, unkeyedEvery: 101, dataBytes: 250, historySize: 25_000 };
 */
export interface ReplayPlan {
	keys: number;
	keyedMessages: number;
	unkeyedEvery: number;
	dataBytes: number;
	historySize: number;
}

/**
 * A replay contender: the engine, whether the checks were published with their monitor as
 * conflation key (after) or without one (`conflationKey: null`, before), and the route's
 * `maxBufferedBytes` when it is not the default.
 */
export interface ReplayContender {
	name: string;
	engine: ServerSetup['engine'];
	keyed: boolean;
	maxBufferedBytes?: number;
}

/** A limit no replay of the suite's sizes reaches: what the replay costs when nothing closes it. */
const RAISED_LIMIT = 64 * 2 ** 20;

/**
 * The contenders in the order each round runs them: before (which the default 1 MiB limit closes
 * mid-replay), before with a raised limit, and after, on each engine.
 *
 * @example
 * for (const contender of replayContenders) console.log(contender.name);
 */
export const replayContenders: readonly ReplayContender[] = (['memory', 'redis'] as const).flatMap(
	(engine) => [
		{ name: `${engine}, unkeyed (before)`, engine, keyed: false },
		{
			name: `${engine}, unkeyed (before), maxBufferedBytes 64 MiB`,
			engine,
			keyed: false,
			maxBufferedBytes: RAISED_LIMIT
		},
		{ name: `${engine}, keyed (after)`, engine, keyed: true }
	]
);

/**
 * One replay run: how the rejoining client ended (time and bytes from its join until it held the
 * newest check of every monitor and every unkeyed message), and the server's CPU time meanwhile.
 */
export interface ReplayResult {
	reader: ReaderResult;
	serverCpuMs: number;
}

const START_TIMEOUT_MS = 30_000;
const RUN_TIMEOUT_MS = 120_000;

/** The messages published while the client is away: a whole number of keyed+unkeyed groups. */
export function awayPlanOf(plan: ReplayPlan, room: string, keyed: boolean): PublishPlan {
	const groups = Math.ceil(plan.keyedMessages / (plan.unkeyedEvery - 1));
	return {
		room,
		messages: groups * plan.unkeyedEvery,
		perSecond: 0,
		keys: plan.keys,
		keyed,
		unkeyedEvery: plan.unkeyedEvery,
		padding: paddingFor(plan.dataBytes)
	};
}

type ServerChild = Child<ServerCommand, ServerReport>;

async function publish(server: ServerChild, plan: PublishPlan): Promise<void> {
	server.send({ type: 'publish', plan, measured: false });
	await server.next('published', RUN_TIMEOUT_MS);
}

async function runOnce(
	server: ServerChild,
	port: number,
	reader: Child<ReaderCommand, ReaderReport>,
	plan: ReplayPlan,
	contender: ReplayContender,
	room: string
): Promise<ReplayResult> {
	const away = awayPlanOf(plan, room, contender.keyed);
	// Every monitor once, then the client takes its position and leaves.
	await publish(server, { ...away, messages: plan.keys, unkeyedEvery: undefined });
	reader.send({ type: 'seed', port, room });
	const { position } = await reader.next('seeded', START_TIMEOUT_MS);
	await publish(server, away);
	server.send({ type: 'mark' });
	await server.next('marked', START_TIMEOUT_MS);
	const goal: Goal = { messages: away.messages, keys: plan.keys, unkeyedEvery: plan.unkeyedEvery };
	reader.send({ type: 'rejoin', port, room, since: position, goal, timeoutMs: RUN_TIMEOUT_MS });
	const { result } = await reader.next('caught-up', RUN_TIMEOUT_MS + START_TIMEOUT_MS);
	server.send({ type: 'measure' });
	const { run } = await server.next('measured', START_TIMEOUT_MS);
	return { reader: result, serverCpuMs: run.cpuMicros / 1000 };
}

/**
 * Runs the replay contenders in interleaved rounds: one server process per engine and limit (history
 * of `historySize` per room, kept 10 minutes; Redis under `redisPrefix` on BENCH_REDIS_URL; the
 * processes on Redis share rooms' keys, never a room), a reader process, a fresh room per run. A run that fails is reported through `failed` and left out.
 *
 * @example
 * const results = await runReplay(plan, 3, replayContenders, 'bench:c1:', (what, error) => console.log(what, error));
 */
export async function runReplay(
	plan: ReplayPlan,
	rounds: number,
	contenders: readonly ReplayContender[],
	redisPrefix: string,
	failed: (what: string, error: unknown) => void
): Promise<Map<string, ReplayResult[]>> {
	const results = new Map<string, ReplayResult[]>(contenders.map((c) => [c.name, []]));
	const setupOf = (contender: ReplayContender): ServerSetup => ({
		engine: contender.engine,
		historySize: plan.historySize,
		maxBufferedBytes: contender.maxBufferedBytes
	});
	const setups = [...new Set(contenders.map((contender) => JSON.stringify(setupOf(contender))))];
	const servers = new Map(
		setups.map((setup) => {
			const url = new URL('./server-process.ts', import.meta.url);
			return [setup, new Child<ServerCommand, ServerReport>(url, [setup, redisPrefix])] as const;
		})
	);
	const reader = new Child<ReaderCommand, ReaderReport>(
		new URL('./reader-process.ts', import.meta.url),
		[]
	);
	try {
		const ports = new Map<string, number>();
		for (const [setup, server] of servers) {
			ports.set(setup, (await server.next('listening', START_TIMEOUT_MS)).port);
		}
		await reader.next('ready', START_TIMEOUT_MS);
		for (let round = 1; round <= rounds; round++) {
			for (const contender of contenders) {
				const room = `replay-${round}-${contender.name.replace(/\W+/g, '-')}`;
				try {
					const setup = JSON.stringify(setupOf(contender));
					const server = servers.get(setup)!;
					const port = ports.get(setup)!;
					results
						.get(contender.name)
						?.push(await runOnce(server, port, reader, plan, contender, room));
				} catch (error) {
					failed(`${contender.name}, round ${round}`, error);
				}
			}
		}
	} finally {
		await Promise.all([
			reader.stop({ type: 'exit' }),
			...[...servers.values()].map((server) => server.stop({ type: 'exit' }))
		]);
	}
	return results;
}
