import {
	createSocketServer,
	defineRoute,
	MemoryEngine,
	shareSocketServer,
	type SocketServer
} from 'runesocket/server';
import { accountLimitsFromEnvironment, DemoAccounts } from './accounts.js';
import { Dashboard, PROJECTS } from './dashboard.js';
import { answerIncidentRequests } from './incident-requests.js';
import { accountRoom, projectRoom } from './messages.js';
import { Validated } from './schemas.js';
import { sessionLifetime, type DemoSession, type DemoUser } from './session.js';
import { DemoSessions, socketAuth } from './sessions.js';
import { ratesFromEnvironment, startSimulator } from './simulator.js';
import { forkSimulator } from './simulator-fork.js';
import { MemoryDashboardStore } from './store.js';
import { requestAddress, UNKNOWN_CLIENT } from './team-quota.js';

/** Rooms a user may join: their account's, and its projects'. */
function mayJoin(user: DemoUser, room: string): boolean {
	if (room == accountRoom(user.account)) return true;
	return Object.keys(PROJECTS).some((project) => room == projectRoom(user.account, project));
}

/** The accounts this process has a signed-in socket of. */
function viewedAccounts(sockets: SocketServer): string[] {
	return [...sockets.connections].flatMap((connection) => {
		const user = connection.authData as DemoUser | undefined;
		return user ? [user.account] : [];
	});
}

/** Every account's own room, where the dashboard shows who is looking. */
const isAccountRoom = (room: string) => room.startsWith(accountRoom(''));

// With REDIS_URL, every process started with it serves the same dashboard: rooms, history and state
// live in Redis. Without it, one process keeps everything in memory.
const redisUrl = process.env.REDIS_URL;

/**
 * The Redis engine and store, imported only when REDIS_URL asks for them: ioredis and the Redis
 * engine are a large part of what `vite dev` would otherwise load before it is ready.
 */
async function loadRedis() {
	const [{ RedisEngine }, { RedisDashboardStore }] = await Promise.all([
		import('runesocket/redis'),
		import('./redis-store.js')
	]);
	return { RedisEngine, RedisDashboardStore };
}

async function createRealtime() {
	const redis = redisUrl ? { url: redisUrl, ...(await loadRedis()) } : undefined;
	const limits = accountLimitsFromEnvironment(process.env);
	const store = redis
		? new redis.RedisDashboardStore(redis.url, { retention: 2 * limits.idleTimeout })
		: new MemoryDashboardStore();
	const sessions = new DemoSessions(store, sessionLifetime(process.env));
	const sockets = shareSocketServer(() =>
		createSocketServer({
			engine: redis ? new redis.RedisEngine({ redis: redis.url }) : new MemoryEngine(),
			routes: [
				defineRoute<DemoSession>({
					path: '/ws',
					// A dashboard tab is worth a few seconds of backlog. At 10,000 checks a second (about
					// 1 MB/s) one long frame, or a test browser's instrumentation, puts a page over the
					// default 1 MiB for a moment; it then catches up and draws only the newest state.
					// How many tabs there can be is bounded by the demo's account limits.
					maxBufferedBytes: 4 * 1024 * 1024,
					// Also checks every refreshed token: the route asks for one ahead of `exp`.
					firstMessageAuth: { verify: (token) => socketAuth(sessions, token) },
					// The demo has no accounts of people, only sessions (anyone may sign in as "Ada"):
					// a session is the user whose tabs sign-out closes, and a refreshed token must
					// name the same one.
					userId: (session) => session.sid,
					// A request sent again is recognised by the person's team and name, as the page keys
					// its outbox, not by session: what a tab signed out of and into again within the
					// outbox's deadline sends once more is still applied once.
					requestKeys: { scope: ({ authData }) => `${authData.account}/${authData.name}` },
					connectedData: (connection) => ({ name: connection.authData.name }),
					authorizeJoin: (connection, room) => mayJoin(connection.authData, room),
					// Who is looking at the team's dashboard: one entry per name, however many tabs.
					presence: {
						member: ({ authData: { name } }) => ({ id: name, data: { name } }),
						rooms: isAccountRoom
					}
				})
			]
		})
	);
	sockets.on(Validated.Ping, (_connection, { sentAt }, reply) => reply({ sentAt }));
	const accounts = new DemoAccounts(store, limits, () => viewedAccounts(sockets));
	const dashboard = new Dashboard(store, sockets, accounts);
	// Answered on the socket itself, after the joins it sent first: what the page misses from here on
	// arrives as live messages behind this reply.
	sockets.on(Validated.SnapshotRequested, async (connection, _data, reply) => {
		const user = connection.authData as DemoUser;
		// An account that expired comes back here too: a new team, counted against the client.
		const from = requestAddress(connection.req, process.env) ?? UNKNOWN_CLIENT;
		const refused = await dashboard.admission(user.account, from);
		if (refused) throw new Error(refused.message);
		reply(await dashboard.snapshot(user.account));
	});
	answerIncidentRequests(sockets, dashboard, process.env);
	accounts.start();
	// With Redis, the simulator runs in a process of its own and publishes through RedisPublisher.
	// Every server process forks one, and a Redis lease lets exactly one of them run: several would
	// flap the monitors that much faster.
	if (redis) forkSimulator();
	else startSimulator(dashboard, ratesFromEnvironment(process.env));
	return { sockets, dashboard, sessions, signOut: (token?: string) => signOut(token) };

	/**
	 * Revokes the token's session everywhere: no page load, form or socket accepts it again, and its
	 * open sockets close with 4004 on every process (the page then stops reconnecting and shows the
	 * sign-in). Revoked before the sockets close, so none of them gets back in.
	 */
	async function signOut(token: string | undefined): Promise<void> {
		const session = await sessions.revoke(token);
		if (session) await sockets.disconnectUser(session.sid);
	}
}

// One per process however many copies of this module load (Vite's plugin, SvelteKit, HMR), so the
// simulator runs once and every copy publishes through the socket server that is attached. The
// promise is what is shared: copies that load while the first is still importing Redis wait for it
// instead of building a second one.
const shared = globalThis as { runesocketDemo?: ReturnType<typeof createRealtime> };

/**
 * The demo's socket server, its state with the changes that publish through it, its sessions, and
 * sign-out.
 */
export const { sockets, dashboard, sessions, signOut } = await (shared.runesocketDemo ??=
	createRealtime());
