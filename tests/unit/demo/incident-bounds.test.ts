import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createSocketServer, type SocketServer } from '../../../src/lib/server/index.js';
import type { MessageDefinition } from '../../../src/lib/index.js';
import { DEFAULT_ACCOUNT_LIMITS, DemoAccounts } from '../../../src/demo/accounts.js';
import { Dashboard, RESOLVED_KEPT, type RoomPublisher } from '../../../src/demo/dashboard.js';
import { accountRoom, MAX_UPDATE_LENGTH, type Incident } from '../../../src/demo/messages.js';
import { RedisDashboardStore } from '../../../src/demo/redis-store.js';
import { MAX_OPEN_INCIDENTS, MAX_TIMELINE } from '../../../src/demo/limits.js';
import { IncidentSchema } from '../../../src/demo/shapes.js';
import {
	ACTIVITY_KEPT,
	MemoryDashboardStore,
	type DashboardStore
} from '../../../src/demo/store.js';
import { startRedisServer, type RedisServer } from '../../kit/servers/redis-server.js';

// The demo's documented bounds (MAX_TIMELINE entries, updates of MAX_UPDATE_LENGTH, RESOLVED_KEPT
// resolved, MAX_OPEN_INCIDENTS open) must hold whatever people do, in whatever order, and what the
// sockets sent must always add up to what the store holds. fast-check plays sequences of actions,
// some of them at once, against the dashboard on each store, publishing through a real socket
// server (whose publish validates every message against its schema, as in production).

interface Sent {
	name: string;
	data: unknown;
}

/** A real socket server as the dashboard's publisher, recording what each room was actually sent. */
function recordingSockets(sockets: SocketServer, sent: Map<string, Sent[]>): RoomPublisher {
	return {
		to: (room) => ({
			emit: async <Data>(definition: MessageDefinition<Data>, data: Data) => {
				const position = await sockets.to(room).emit(definition, data);
				const messages = sent.get(room) ?? [];
				sent.set(room, [...messages, { name: definition.name, data }]);
				return position;
			}
		}),
		position: (room) => sockets.position(room)
	};
}

/** The incidents a page that saw every message of the account's room shows, by id. */
function socketsView(messages: readonly Sent[]): Map<string, Incident> {
	const view = new Map<string, Incident>();
	for (const { name, data } of messages) {
		if (name == 'incident.changed') view.set((data as Incident).uuid, data as Incident);
		if (name == 'incident.archived') view.delete((data as { uuid: string }).uuid);
	}
	return view;
}

type Action =
	| { kind: 'open'; count: number; severity: Incident['severity']; project: string; title: string }
	| { kind: 'acknowledge' | 'resolve'; target: number }
	| { kind: 'update'; target: number; count: number; text: string };

/** Mostly the newest incident, so that one gets a long life; sometimes an older or unknown one. */
const target = fc.oneof(fc.constant(0), fc.nat({ max: 6 }));
const action: fc.Arbitrary<Action> = fc.oneof(
	fc.record({
		kind: fc.constant('open' as const),
		// Sometimes many at once, so that MAX_OPEN_INCIDENTS is within reach.
		count: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: MAX_OPEN_INCIDENTS + 5 })),
		severity: fc.constantFrom('critical' as const, 'warning' as const, 'info' as const),
		project: fc.constantFrom('web', 'api', 'data'),
		title: fc.string({ minLength: 1, maxLength: 120 })
	}),
	fc.record({ kind: fc.constantFrom('acknowledge' as const, 'resolve' as const), target }),
	fc.record({
		kind: fc.constant('update' as const),
		target,
		// Sometimes enough updates to fill a timeline.
		count: fc.oneof(fc.constant(1), fc.constant(MAX_TIMELINE), fc.nat({ max: MAX_TIMELINE })),
		text: fc.string({ minLength: 1, maxLength: MAX_UPDATE_LENGTH })
	})
);
/** Actions in turns: those of one turn run at once, the turns one after another. */
const turns = fc.array(fc.array(action, { minLength: 1, maxLength: 3 }), {
	minLength: 1,
	maxLength: 25
});

const people = [
	{ name: 'Ada', account: '' },
	{ name: 'Grace', account: '' }
];

/** Plays one action; incidents are named by their index among those opened, newest first. */
async function play(
	dashboard: Dashboard,
	account: string,
	opened: string[],
	step: Action,
	turn: number
): Promise<void> {
	const user = { ...people[turn % people.length]!, account };
	if (step.kind == 'open') {
		for (let index = 0; index < step.count; index++) {
			const incident = await dashboard.openIncident(user, step);
			if (typeof incident == 'object') opened.unshift(incident.uuid);
		}
		return;
	}
	const uuid = opened[step.target] ?? 'no-such-incident';
	if (step.kind == 'acknowledge') await dashboard.acknowledgeIncident(user, uuid);
	if (step.kind == 'resolve') await dashboard.resolveIncident(user, uuid);
	if (step.kind == 'update')
		for (let index = 0; index < step.count; index++)
			await dashboard.updateIncident(user, uuid, step.text);
}

/** Every bound the demo documents, and the sockets' view equal to the store's. */
async function expectBounds(store: DashboardStore, account: string, sent: Sent[]): Promise<void> {
	const { incidents, activity } = await store.snapshot(account);
	for (const incident of incidents) expect(IncidentSchema.parse(incident)).toEqual(incident);
	const resolved = incidents.filter((incident) => incident.status == 'resolved');
	expect(resolved.length).toBeLessThanOrEqual(RESOLVED_KEPT);
	expect(incidents.length - resolved.length).toBeLessThanOrEqual(MAX_OPEN_INCIDENTS);
	expect(activity.length).toBeLessThanOrEqual(ACTIVITY_KEPT);
	const byId = (list: Iterable<Incident>) => [...list].sort((a, b) => a.uuid.localeCompare(b.uuid));
	expect(byId(socketsView(sent).values())).toEqual(byId(incidents));
}

type ClosableStore = DashboardStore & { close?(): Promise<void> };

const stores: Record<string, { runs: number; create: () => Promise<ClosableStore> }> = {
	memory: { runs: 300, create: async () => new MemoryDashboardStore() },
	redis: {
		runs: 40,
		create: async () => new RedisDashboardStore(redis.url, { retention: 60_000 })
	}
};
let redis: RedisServer;

for (const [kind, { runs, create }] of Object.entries(stores)) {
	describe(`the demo's bounds on the ${kind} store`, { timeout: 60_000 }, () => {
		let store: ClosableStore;
		let sockets: SocketServer;

		beforeEach(async () => {
			if (kind == 'redis') redis = await startRedisServer();
			store = await create();
			sockets = createSocketServer({ routes: [{ path: '/ws' }] });
		});
		afterEach(async () => {
			await sockets.close();
			await store.close?.();
		});

		it('hold under any sequence of actions, some at once, and the sockets saw what the store holds', async () => {
			let run = 0;
			await fc.assert(
				fc.asyncProperty(turns, async (plan) => {
					const account = `team-${run++}`;
					const sent = new Map<string, Sent[]>();
					const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => [account]);
					const dashboard = new Dashboard(store, recordingSockets(sockets, sent), accounts);
					await dashboard.admit(account);
					const opened: string[] = [];
					for (const [turn, steps] of plan.entries()) {
						const outcomes = await Promise.allSettled(
							steps.map((step) => play(dashboard, account, opened, step, turn))
						);
						const failures = outcomes.filter((outcome) => outcome.status == 'rejected');
						expect(failures.map((failure) => String(failure.reason))).toEqual([]);
						await expectBounds(store, account, sent.get(accountRoom(account)) ?? []);
					}
					await store.removeAccount(account);
				}),
				{ numRuns: runs }
			);
		});
	});
}
