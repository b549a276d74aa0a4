import { expect } from 'vitest';
import { recordAttack } from './attack-summary.js';
import type { HardeningServer, WatchReport } from '../servers/hardening-server-process.js';
import { WellBehavedClient, type FeedTally } from './well-behaved-client.js';

/** `npm run soak` sets SOAK=1: the long versions of every attack. */
export const SOAK = process.env.SOAK == '1';

/** `quick` in `npm test`, `soak` under `npm run soak`. */
export function scaled<T>(quick: T, soak: T): T {
	return SOAK ? soak : quick;
}

/** The longest event-loop stall the server may show under any attack (issue 8). */
export const MAX_STALL_MS = 50;
/** How much the server's heap may grow through one attack, after a garbage collection. */
export const MAX_HEAP_GROWTH_MB = 50;

const MB = 1024 * 1024;

/** Everything measured around one attack. */
export interface AttackOutcome {
	readonly attack: string;
	readonly inputs: number;
	/** The server process was running and answering at the end. */
	readonly survived: boolean;
	/** How it crashed, if it did, with the end of its log. */
	readonly crash: string | undefined;
	readonly feed: FeedTally & { readonly published: number };
	readonly watch: WatchReport;
	/** The longest stall of the server's loop caused by its own work while the attack ran. */
	readonly longestStallMs: number;
	/** The longest any 10 ms timer of the server came late (includes time the machine gave others). */
	readonly longestDelayMs: number;
	/** Heap after minus heap before, both right after a garbage collection. */
	readonly heapGrowthMb: number;
	/** The highest heap sampled during the attack minus the heap before. */
	readonly peakHeapGrowthMb: number;
	readonly rssBeforeMb: number;
	readonly rssAfterMb: number;
	/** `Object.prototype` was untouched at the end. */
	readonly prototypeClean: boolean;
}

const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

/** Counts an attack's inputs as it goes, so a failing attack still reports how far it got. */
export interface InputCounter {
	count: number;
}

/**
 * Runs one attack against the hardening server while the well-behaved client receives the
 * numbered feed and a watchdog health-checks the server, and measures the server before and after.
 * `run` resolves with how many inputs it sent (or adds them to its counter as it goes). The row is
 * recorded for the soak summary even when the attack itself fails (then rethrown).
 *
 * @example
 * ```ts
 * const outcome = await underAttack(server(), 'heartbeat flood ("2")', () => floodFrames(…));
 * expectUnharmed(outcome);
 * ```
 */
export async function underAttack(
	server: HardeningServer,
	attack: string,
	run: (inputs: InputCounter) => Promise<number | void>,
	feedIntervalMs = 10
): Promise<AttackOutcome> {
	const before = await server.stats(true);
	const watcher = await WellBehavedClient.join(server);
	await server.startFeed(feedIntervalMs);
	const stopWatching = server.watch();
	const counter: InputCounter = { count: 0 };
	let failure: unknown;
	try {
		counter.count = (await run(counter)) ?? counter.count;
	} catch (error) {
		failure = error;
	}
	const inputs = counter.count;
	const watch = await stopWatching();
	const outcome = await measure(server, attack, inputs, before, watcher, watch);
	if (failure) throw failure;
	return outcome;
}

async function measure(
	server: HardeningServer,
	attack: string,
	inputs: number,
	before: Awaited<ReturnType<HardeningServer['stats']>>,
	watcher: WellBehavedClient,
	watch: WatchReport
): Promise<AttackOutcome> {
	let published = 0;
	let during: Awaited<ReturnType<HardeningServer['stats']>> | undefined;
	let after: Awaited<ReturnType<HardeningServer['stats']>> | undefined;
	try {
		published = (await server.stopFeed()).published;
		during = await server.stats();
		after = await server.stats(true);
	} catch {
		// A dead or hung server answers nothing: the outcome says so.
	}
	const feed = { ...(await watcher.settle(published, after ? 10_000 : 1_000)), published };
	const survived = server.alive && after !== undefined;
	const outcome: AttackOutcome = {
		attack,
		inputs,
		survived,
		crash: survived ? undefined : `${server.crash ?? 'not answering'}\n${server.log.slice(-3_000)}`,
		feed,
		watch,
		longestStallMs: during?.maxStallMs ?? Infinity,
		longestDelayMs: during?.maxDelayMs ?? Infinity,
		heapGrowthMb: after ? mb(after.heapUsed - before.heapUsed) : Infinity,
		peakHeapGrowthMb: during ? mb(during.peakHeapUsed - before.heapUsed) : Infinity,
		rssBeforeMb: mb(before.rss),
		rssAfterMb: after ? mb(after.rss) : 0,
		prototypeClean: after?.prototypeClean ?? false
	};
	recordAttack({
		attack,
		inputs,
		survived,
		rssBeforeMb: outcome.rssBeforeMb,
		rssAfterMb: outcome.rssAfterMb,
		lost: feed.lost,
		longestStallMs: outcome.longestStallMs
	});
	console.log(
		`[hardening] ${attack}: ${inputs} inputs, survived ${survived}, lost ${feed.lost}/${published}, ` +
			`stall ${outcome.longestStallMs} ms (delay ${outcome.longestDelayMs} ms), ` +
			`heap +${outcome.heapGrowthMb} MB (peak +${outcome.peakHeapGrowthMb} MB), ` +
			`RSS ${outcome.rssBeforeMb} → ${outcome.rssAfterMb} MB, longest silence ${watch.longestSilenceMs} ms`
	);
	return outcome;
}

/**
 * The checks every attack must pass: the server alive, answering and unstalled (at most
 * `maxStallMs`, 50 unless an attack documents why Node itself cannot do better), its heap bounded
 * and its prototypes clean; the well-behaved client lost nothing, got nothing twice, stayed connected.
 *
 * @example
 * ```ts
 * expectUnharmed(await underAttack(server(), 'binary flood', flood));
 * ```
 */
export function expectUnharmed(outcome: AttackOutcome, maxStallMs = MAX_STALL_MS): void {
	expect(outcome.crash, 'the server process crashed or stopped answering').toBeUndefined();
	expect(outcome.watch.hung, 'the server stopped answering health checks').toBe(false);
	expect(outcome.feed.published, 'feed messages published meanwhile').toBeGreaterThan(0);
	expect(outcome.feed, 'the well-behaved client').toMatchObject({
		lost: 0,
		duplicated: 0,
		unexpected: 0,
		disconnects: 0
	});
	expect(outcome.longestStallMs, 'longest event-loop stall in the server (ms)').toBeLessThanOrEqual(
		maxStallMs
	);
	expect(outcome.heapGrowthMb, 'retained heap growth (MB)').toBeLessThan(MAX_HEAP_GROWTH_MB);
	expect(outcome.peakHeapGrowthMb, 'peak heap growth during the attack (MB)').toBeLessThan(
		2 * MAX_HEAP_GROWTH_MB
	);
	expect(outcome.prototypeClean, 'Object.prototype untouched').toBe(true);
}
