import { setTimeout as sleep } from 'node:timers/promises';
import { Child } from '../child.js';
import type { LoopLag } from './loop-lag.js';
import {
	BUCKET_MS,
	nowMs,
	serverFor,
	type ClientCommand,
	type ClientKind,
	type ClientReport,
	type ServerCommand,
	type ServerReport
} from './messages.js';

/**
 * What one storm showed, every time relative to the restart (the new server listening).
 *
 * @example
 * const { upgrades, backMs } = await runStorm('runesocket', { clients: 1_000, outageMs: 2_000 });
 */
export interface StormMeasurement {
	/** Upgrade requests the restarted server saw per 100 ms bucket. */
	upgrades: number[];
	/** Connection attempts the clients made per 100 ms bucket (what they offered, seen or not yet). */
	sent: number[];
	/**
	 * Attempts per 100 ms bucket by when their backoff delay made them due: the policy's own herd,
	 * before one process's CPU spreads it (empty for Socket.IO, which does not tell its delays).
	 */
	scheduled: number[];
	/** Attempts the clients made while the server was down (all refused). */
	attemptsWhileDown: number;
	/** When each client was connected and in its room again, ms, sorted. */
	backMs: number[];
	/** Clients that were back, lost the connection again and came back once more. */
	rejoinedTwice: number;
	/** How late the client process's loop ran from just before the kill until all were back. */
	clientLag: LoopLag;
	/** How late the restarted server's loop ran from its restart until all were back. */
	serverLag: LoopLag;
}

/**
 * How a storm is run: how many clients, and how long the server stays down.
 *
 * @example
 * const setup: StormSetup = { clients: 1_000, outageMs: 2_000 };
 */
export interface StormSetup {
	clients: number;
	outageMs: number;
}

type Server = Child<ServerCommand, ServerReport>;
type Clients = Child<ClientCommand, ClientReport>;

/** How long the slowest client may take to be back before the storm counts as failed. */
const ALL_BACK_WITHIN_MS = 60_000;

function bucketsOf(times: readonly number[], from: number): number[] {
	const buckets: number[] = [];
	for (const time of times) {
		const bucket = Math.floor((time - from) / BUCKET_MS);
		if (bucket < 0) continue;
		while (buckets.length <= bucket) buckets.push(0);
		buckets[bucket]++;
	}
	return buckets;
}

function serverProcess(kind: ClientKind): Server {
	return new Child(new URL('./server-process.ts', import.meta.url), [serverFor(kind)]);
}

/** Listens on `port` and returns when it did, on the shared clock. */
async function listen(server: Server, port: number): Promise<{ port: number; at: number }> {
	server.send({ type: 'listen', port });
	const { port: listening, listenedAt } = await server.next('listening', 10_000);
	return { port: listening, at: listenedAt };
}

/**
 * One storm: a server in one process, `clients` clients of `kind` in another, all connected and in
 * a room; the server is SIGKILLed, stays down `outageMs`, and a new process (loaded beforehand)
 * listens on the same port. Resolves once every client is back; every process is gone by then.
 *
 * @example
 * const measurement = await runStorm('baseline', { clients: 1_000, outageMs: 2_000 });
 */
export async function runStorm(kind: ClientKind, setup: StormSetup): Promise<StormMeasurement> {
	const [first, second] = [serverProcess(kind), serverProcess(kind)];
	let clients: Clients | undefined;
	try {
		await Promise.all([first.next('loaded', 30_000), second.next('loaded', 30_000)]);
		const { port } = await listen(first, 0);
		clients = new Child(new URL('./client-process.ts', import.meta.url), [
			kind,
			`${port}`,
			`${setup.clients}`
		]);
		await clients.next('ready', 60_000);
		const killedAt = nowMs();
		await first.kill();
		await sleep(setup.outageMs - (nowMs() - killedAt));
		const restartedAt = (await listen(second, port)).at;
		const back = await clients.next('back', ALL_BACK_WITHIN_MS);
		second.send({ type: 'count' });
		const { upgrades, lag } = await second.next('counted', 10_000);
		return {
			upgrades,
			sent: bucketsOf(back.attemptTimes, restartedAt),
			scheduled: bucketsOf(back.scheduledTimes, restartedAt),
			attemptsWhileDown: back.attemptTimes.filter((time) => time < restartedAt).length,
			backMs: back.backTimes.map((time) => time - restartedAt).sort((a, b) => a - b),
			rejoinedTwice: back.rejoinedTwice,
			clientLag: back.lag,
			serverLag: lag
		};
	} finally {
		await Promise.all([clients?.stop({ type: 'exit' }), first.kill(), second.kill()]);
	}
}
