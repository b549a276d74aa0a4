/**
 * Faults, as issue 8's suite asks: server processes SIGKILLed and Redis restarted in a loop under
 * load, with a detector for a process that stops answering; and a client whose network is cut
 * without a close frame. Servers are child processes (tests/kit/servers/chaos-server.ts) on a private
 * redis-server; the test publishes the numbered stream through its own RedisEngine, as another node
 * of the app would. `npm run soak` (SOAK=1) runs the long versions.
 */
import { describe, expect, it } from 'vitest';
import { Connected, type SocketClient } from '../../../src/lib/index.js';
import { recordAttack } from '../../kit/attack/attack-summary.js';
import { scaled } from '../../kit/attack/attack.js';
import {
	CHAOS_ROOM as ROOM,
	Publisher,
	expectAlive,
	few,
	publishFence,
	publisherEngine,
	report,
	seqThrough,
	unexcusedLosses,
	watchServers,
	watchStream,
	type StreamView
} from '../../kit/chaos.js';
import { makeClient } from '../../kit/clients.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';
import { startServerProcess, type ServerProcess } from '../../kit/servers/chaos-server-process.js';
import { TcpProxy } from '../../kit/servers/tcp-proxy.js';
import { nextEvent } from '../../kit/wait.js';

/** Every other restart keeps Redis's data (same epochs: gaps are filled), the others wipe it. */
const REDIS_RESTARTS = scaled(2, 20);
const SERVER_KILLS = scaled(1, 10);
const NETWORK_CUTS = scaled(1, 5);
/** The server's liveness ping in the network-cut test: a silent peer is gone within two of them. */
const HEARTBEAT_MS = 500;

const RECONNECT = { reconnectDelay: 50, maxReconnectDelay: 250 };
const MB = 1024 * 1024;

const mb = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

/** The summed RSS of the running servers, bytes. */
async function rssOf(servers: readonly ServerProcess[]): Promise<number> {
	const stats = await Promise.all(servers.map((server) => server.stats()));
	return stats.reduce((sum, { rss }) => sum + rss, 0);
}

/** A client in the chaos room that prefers `preferred` and fails over to `other` while it is down. */
async function joinedClient(
	preferred: ServerProcess,
	other: ServerProcess
): Promise<{ client: SocketClient; view: StreamView }> {
	const client = makeClient(() => (preferred.running ? preferred : other).url, RECONNECT);
	const view = watchStream(client);
	client.joinRoom(ROOM);
	client.connect();
	await view.joined();
	return { client, view };
}

/** Resolves once every view received a message published after this call (or a later one). */
async function caughtUp(publisher: Publisher, views: readonly StreamView[]): Promise<void> {
	await publisher.reach(publisher.sent.length + 30);
	const target = publisher.sent.at(-1)!.n;
	await Promise.all(
		views.map((view) =>
			view.signal.until(
				() => (view.received.at(-1) ?? 0) >= target,
				`the client to receive #${target}`,
				30_000
			)
		)
	);
}

describe('faults under load', () => {
	it(
		`Redis restarted ${REDIS_RESTARTS}× and servers SIGKILLed ${SERVER_KILLS}×: no process hangs, nothing lost but what was reported Unrecoverable`,
		{ timeout: scaled(90_000, 600_000) },
		async () => {
			const redis = await startRedisServer({ persistent: true });
			const servers = await Promise.all([
				startServerProcess({ REDIS_URL: redis.url }),
				startServerProcess({ REDIS_URL: redis.url })
			]);
			const engine = await publisherEngine(redis);
			const clients = await Promise.all([
				joinedClient(servers[0], servers[1]),
				joinedClient(servers[1], servers[0])
			]);
			const views = clients.map(({ view }) => view);
			const rssBefore = await rssOf(servers);
			const stopWatching = watchServers(servers);
			const publisher = new Publisher(seqThrough(engine), 2);
			await caughtUp(publisher, views);

			let wiped = 0;
			let failure: unknown;
			try {
				for (let round = 0; round < Math.max(REDIS_RESTARTS, SERVER_KILLS); round++) {
					if (round < REDIS_RESTARTS) {
						const wipe = round % 2 == 1;
						await redis.kill();
						// Publishes fail at once while Redis is down: they count as not sent.
						await publisher.failures(publisher.failed.length + 5);
						await redis.restart({ wipe });
						if (wipe) wiped++;
						await caughtUp(publisher, views);
					}
					if (round < SERVER_KILLS) {
						const victim = servers[round % servers.length];
						await victim.kill();
						await publisher.reach(publisher.sent.length + 50);
						await victim.restart();
						await caughtUp(publisher, views);
					}
				}
				await publisher.stop();
				await publishFence(engine, 1);
				await Promise.all(views.map((view) => view.fenced(1, 30_000)));
			} catch (error) {
				failure = error;
			}
			const watch = await stopWatching();
			const attack = `Redis restart ×${REDIS_RESTARTS} (every other one wiped) + server SIGKILL ×${SERVER_KILLS}, under load`;
			if (failure) {
				recordAttack({
					attack,
					inputs: REDIS_RESTARTS + SERVER_KILLS,
					survived: false,
					rssBeforeMb: mb(rssBefore),
					rssAfterMb: 0,
					lost: Math.max(...views.map((view) => publisher.sent.length - view.received.length)),
					longestStallMs: watch.longestStallMs
				});
				// A hung process explains a stream that stopped better than the timeout that noticed it.
				expect(watch.hangs, 'server processes that stopped answering').toEqual([]);
				throw failure;
			}
			const rssAfter = await rssOf(servers);

			const results = views.map((view, index) => ({
				view,
				result: report(`faults client ${index + 1}`, publisher.numbers, view.received),
				unexcused: unexcusedLosses(publisher.numbers, view.timeline)
			}));
			const unexcused = results.reduce((sum, { unexcused }) => sum + unexcused.length, 0);
			const survived = watch.hangs.length == 0 && servers.every((server) => server.running);
			recordAttack({
				attack,
				inputs: REDIS_RESTARTS + SERVER_KILLS,
				survived,
				rssBeforeMb: mb(rssBefore),
				rssAfterMb: mb(rssAfter),
				lost: unexcused,
				longestStallMs: watch.longestStallMs
			});
			console.log(
				`faults loop (detail): ${publisher.sent.length} published, ${publisher.failed.length} failed ` +
					`while Redis was down; ${watch.checks} health checks, longest stall ${watch.longestStallMs} ms; ` +
					results
						.map(
							({ view, result }, index) =>
								`client ${index + 1}: ${view.unrecoverable.length} Unrecoverable, ` +
								`${result.lost.length} lost behind them`
						)
						.join('; ')
			);

			expect(watch.hangs, 'server processes that stopped answering').toEqual([]);
			for (const server of servers) expectAlive(server);
			for (const { view, result, unexcused } of results) {
				expect.soft(unexcused, `lost without an Unrecoverable ${few(unexcused)}`).toEqual([]);
				expect.soft(result.duplicated, `duplicated ${few(result.duplicated)}`).toEqual([]);
				expect.soft(result.ordered, 'in order').toBe(true);
				// A publish whose answer was lost with Redis may still have gone out.
				expect.soft(result.unexpected.filter((n) => !publisher.failed.includes(n))).toEqual([]);
				// Every wiped Redis lost the room's history: each one is reported.
				expect.soft(view.unrecoverable.length).toBeGreaterThanOrEqual(wiped);
			}
		}
	);

	it(
		`a client whose network is cut ${NETWORK_CUTS}× without a close frame is dropped by the server's heartbeat, reconnects and misses nothing`,
		{ timeout: scaled(60_000, 300_000) },
		async () => {
			const redis = await startRedisServer();
			const server = await startServerProcess({
				REDIS_URL: redis.url,
				HEARTBEAT_MS: String(HEARTBEAT_MS),
				LOG_CLOSES: '1'
			});
			const proxy = await TcpProxy.start(server.port);
			const engine = await publisherEngine(redis);
			const client = makeClient(`ws://127.0.0.1:${proxy.port}/ws`, RECONNECT);
			const view = watchStream(client);
			client.joinRoom(ROOM);
			client.connect();
			await view.joined();
			// Every stats call restarts the server's maxima: keep the longest stall across them.
			let longestStallMs = 0;
			const stats = async () => {
				const now = await server.stats();
				longestStallMs = Math.max(longestStallMs, now.maxStallMs);
				return now;
			};
			const before = await stats();
			const publisher = new Publisher(seqThrough(engine), 2);
			await view.receivedAtLeast(100);

			for (let cut = 1; cut <= NETWORK_CUTS; cut++) {
				proxy.freeze();
				// Neither end hears anything: only the server's liveness ping can tell the peer is gone.
				await server.printed(/closed 1006/, cut, 4 * HEARTBEAT_MS + 5_000);
				expect((await stats()).connections).toBe(0);
				await publisher.reach(publisher.sent.length + 100);
				const reconnected = nextEvent(client, Connected, 30_000);
				proxy.thaw();
				expect(await reconnected).toEqual({ reconnected: true, recovered: true });
				await caughtUp(publisher, [view]);
			}
			await publisher.stop();
			await publishFence(engine, 1);
			await view.fenced(1);
			const after = await stats();

			const result = report('network-cut', publisher.numbers, view.received);
			recordAttack({
				attack: 'client network cut without a close frame (frozen TCP proxy)',
				inputs: NETWORK_CUTS,
				survived: server.running,
				rssBeforeMb: mb(before.rss),
				rssAfterMb: mb(after.rss),
				lost: result.lost.length,
				longestStallMs
			});
			expect.soft(result.lost, `lost ${few(result.lost)}`).toEqual([]);
			expect.soft(result.duplicated, `duplicated ${few(result.duplicated)}`).toEqual([]);
			expect.soft(result.ordered, 'in order').toBe(true);
			expect(view.unrecoverable).toEqual([]);
			expect(result.unexpected).toEqual([]);
			expectAlive(server);
		}
	);
});
