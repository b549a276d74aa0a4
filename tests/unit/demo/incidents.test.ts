import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MessageDefinition } from '../../../src/lib/index.js';
import { DEFAULT_ACCOUNT_LIMITS, DemoAccounts } from '../../../src/demo/accounts.js';
import { Dashboard, RESOLVED_KEPT, type RoomPublisher } from '../../../src/demo/dashboard.js';
import { MAX_UPDATE_LENGTH } from '../../../src/demo/messages.js';
import { RedisDashboardStore } from '../../../src/demo/redis-store.js';
import { MAX_OPEN_INCIDENTS, MAX_SPANS, MAX_TIMELINE } from '../../../src/demo/limits.js';
import type { Incident } from '../../../src/demo/shapes.js';
import { MonitorSchema } from '../../../src/demo/shapes.js';
import { MemoryDashboardStore, type DashboardStore } from '../../../src/demo/store.js';
import { startRedisServer } from '../../kit/servers/redis-server.js';

// An incident's life (opened → acknowledged → updates → resolved → archived) as the dashboard keeps
// it, in both stores, and what it tells the pages at each step. The publisher records instead of
// sending: these are the dashboard's rules, the socket path has tests of its own.

interface Published {
	room: string;
	name: string;
	data: unknown;
}

function recordingPublisher(published: Published[]): RoomPublisher {
	return {
		to: (room) => ({
			emit: async <Data>(definition: MessageDefinition<Data>, data: Data) => {
				published.push({ room, name: definition.name, data });
			}
		}),
		position: async () => ({ offset: 0, epoch: 'e' })
	};
}

const ada = { name: 'Ada', account: 'acme' };
const grace = { name: 'Grace', account: 'acme' };
const request = { title: 'Checkout is slow', severity: 'critical' as const, project: 'web' };

/** Opens `request` as `user`, which must not be refused. */
async function open(dashboard: Dashboard, user = ada): Promise<Incident> {
	const opened = await dashboard.openIncident(user, request);
	if (typeof opened != 'object') throw new Error(`Refused: ${opened}`);
	return opened;
}

/** How many of `results` are incidents (not refusals). */
const incidentsIn = (results: unknown[]) => results.filter((result) => typeof result == 'object');

const stores: Record<string, () => Promise<DashboardStore & { close?(): Promise<void> }>> = {
	memory: async () => new MemoryDashboardStore(),
	redis: async () => new RedisDashboardStore((await startRedisServer()).url, { retention: 60_000 })
};

for (const [kind, createStore] of Object.entries(stores)) {
	describe(`an incident's life in the ${kind} store`, () => {
		let store: DashboardStore & { close?(): Promise<void> };
		let published: Published[];
		let dashboard: Dashboard;

		beforeEach(async () => {
			store = await createStore();
			published = [];
			const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => ['acme']);
			dashboard = new Dashboard(store, recordingPublisher(published), accounts);
			await dashboard.admit('acme');
		});
		afterEach(() => store.close?.());

		const changes = () =>
			published.filter((message) => message.name == 'incident.changed').map(({ data }) => data);

		it('goes opened → acknowledged → update → resolved, each step on its timeline and sent whole', async () => {
			const opened = await open(dashboard);
			expect(await dashboard.acknowledgeIncident(grace, opened.uuid)).toMatchObject({
				status: 'acknowledged'
			});
			await dashboard.updateIncident(grace, opened.uuid, 'Rolled back the deploy');
			const resolved = await dashboard.resolveIncident(ada, opened.uuid);

			expect(resolved).toMatchObject({ status: 'resolved' });
			const timeline = typeof resolved == 'object' ? resolved.timeline : [];
			expect(timeline.map(({ kind, by, text }) => ({ kind, by, text }))).toEqual([
				{ kind: 'opened', by: 'Ada', text: undefined },
				{ kind: 'acknowledged', by: 'Grace', text: undefined },
				{ kind: 'update', by: 'Grace', text: 'Rolled back the deploy' },
				{ kind: 'resolved', by: 'Ada', text: undefined }
			]);
			expect(changes()).toHaveLength(4);
			expect(changes().at(-1)).toEqual(resolved);
			expect(published.every((message) => message.room == 'account:acme')).toBe(true);
			expect((await store.snapshot('acme')).incidents).toEqual([resolved]);
			expect(
				(await store.snapshot('acme')).incidents.filter(({ status }) => status != 'resolved')
			).toEqual([]);
		});

		it('refuses what the incident’s state no longer allows, and tells nobody', async () => {
			const { uuid } = await open(dashboard);
			await dashboard.acknowledgeIncident(ada, uuid);
			expect(await dashboard.acknowledgeIncident(grace, uuid)).toBe('acknowledged');
			await dashboard.resolveIncident(ada, uuid);
			expect(await dashboard.resolveIncident(grace, uuid)).toBe('resolved');
			expect(await dashboard.updateIncident(grace, uuid, 'Late')).toBe('resolved');
			expect(await dashboard.resolveIncident(grace, 'no-such-incident')).toBe('not-found');
			expect(changes()).toHaveLength(3);
		});

		it('keeps a timeline bounded: updates stop one short of the limit, leaving room to resolve', async () => {
			const { uuid } = await open(dashboard);
			let refusal;
			for (let update = 0; update < MAX_TIMELINE && !refusal; update++) {
				const result = await dashboard.updateIncident(ada, uuid, `Update ${update}`);
				if (typeof result != 'object') refusal = result;
			}
			expect(refusal).toBe('full');
			const resolved = await dashboard.resolveIncident(ada, uuid);
			expect(typeof resolved == 'object' && resolved.timeline.length).toBe(MAX_TIMELINE);
		});

		it('never lets an acknowledgement take the last place: a full timeline still resolves, and the pages saw it', async () => {
			const { uuid } = await open(dashboard);
			while (typeof (await dashboard.updateIncident(ada, uuid, 'Still looking')) == 'object');
			expect(await dashboard.acknowledgeIncident(grace, uuid)).toBe('full');
			const resolved = await dashboard.resolveIncident(ada, uuid);
			expect(typeof resolved == 'object' && resolved.timeline.length).toBe(MAX_TIMELINE);
			expect((await store.snapshot('acme')).incidents).toEqual([resolved]);
			expect(changes().at(-1)).toEqual(resolved);
		});

		it('refuses what breaks the schema with a TypeError, and writes and sends nothing', async () => {
			const { uuid } = await open(dashboard);
			const before = await store.snapshot('acme');
			const sentBefore = published.length;
			await expect(
				dashboard.updateIncident(ada, uuid, 'x'.repeat(MAX_UPDATE_LENGTH + 1))
			).rejects.toThrow(TypeError);
			for (const project of ['constructor', '__proto__', 'toString', 'nowhere'])
				await expect(dashboard.openIncident(ada, { ...request, project })).rejects.toThrow(
					/No project is named/
				);
			await expect(dashboard.openIncident(ada, { ...request, title: '' })).rejects.toThrow(/title/);
			expect(await store.snapshot('acme')).toEqual(before);
			expect(published).toHaveLength(sentBefore);
		});

		it('opens an incident of an id once, even when two processes’ worth are opened at once', async () => {
			const uuid = '3b241101-e2bb-4255-8caf-4136c566a962';
			const results = await Promise.all([
				dashboard.openIncident(ada, request, uuid),
				dashboard.openIncident(grace, request, uuid)
			]);
			expect(results.map((result) => (typeof result == 'object' ? result.uuid : result))).toEqual([
				uuid,
				'taken'
			]);
			expect((await store.snapshot('acme')).incidents).toHaveLength(1);
			expect(changes()).toHaveLength(1);
		});

		it(`opens at most ${MAX_OPEN_INCIDENTS} even when many are opened at once`, async () => {
			const opened = await Promise.all(
				Array.from({ length: MAX_OPEN_INCIDENTS + 10 }, () => dashboard.openIncident(ada, request))
			);
			expect(incidentsIn(opened)).toHaveLength(MAX_OPEN_INCIDENTS);
			expect((await store.snapshot('acme')).incidents).toHaveLength(MAX_OPEN_INCIDENTS);
			expect(changes()).toHaveLength(MAX_OPEN_INCIDENTS);
		});

		it(`keeps the newest ${RESOLVED_KEPT} resolved incidents and archives older ones`, async () => {
			const uuids = [];
			for (let index = 0; index < RESOLVED_KEPT + 2; index++) {
				const { uuid } = await open(dashboard);
				await dashboard.resolveIncident(ada, uuid);
				uuids.push(uuid);
			}
			const archived = published
				.filter((message) => message.name == 'incident.archived')
				.map(({ data }) => (data as { uuid: string }).uuid);
			const kept = (await store.snapshot('acme')).incidents.map((incident) => incident.uuid);
			// Several may resolve within one millisecond, so which of the old ones go is not asserted.
			expect(archived).toHaveLength(2);
			expect(kept).toHaveLength(RESOLVED_KEPT);
			expect([...kept, ...archived].sort()).toEqual([...uuids].sort());
			expect(kept).toContain(uuids.at(-1));
		});
	});
}

describe('a monitor that flaps fast', () => {
	it(`keeps at most ${MAX_SPANS} status spans, so every change is stored and sent`, async () => {
		const store = new MemoryDashboardStore();
		const published: Published[] = [];
		const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => ['acme']);
		const dashboard = new Dashboard(store, recordingPublisher(published), accounts);
		await dashboard.admit('acme');
		let [monitor] = (await store.snapshot('acme')).monitors;
		// A change every few seconds for an hour: more than the schema lets a monitor carry.
		for (let flap = 0; flap < MAX_SPANS + 50; flap++)
			monitor = await dashboard.setMonitorStatus(monitor!, monitor!.status == 'up' ? 'down' : 'up');
		const stored = (await store.snapshot('acme')).monitors.find(
			({ uuid }) => uuid == monitor!.uuid
		);
		expect(stored!.spans).toHaveLength(MAX_SPANS);
		expect(stored!.spans.at(-1)!.status).toBe(monitor!.status);
		expect(MonitorSchema.parse(stored)).toEqual(stored);
		const sent = published.filter((message) => message.name == 'monitor.status-changed');
		expect(sent).toHaveLength(MAX_SPANS + 50);
		expect(sent.at(-1)!.data).toEqual(stored);
	});
});

describe('two processes on one Redis store', () => {
	it(`open incidents at the same moment: together never more than ${MAX_OPEN_INCIDENTS}`, async () => {
		const redis = await startRedisServer();
		const dashboards = [0, 1].map(() => {
			const store = new RedisDashboardStore(redis.url, { retention: 60_000 });
			const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => ['acme']);
			return { store, dashboard: new Dashboard(store, recordingPublisher([]), accounts) };
		});
		try {
			await dashboards[0]!.dashboard.admit('acme');
			const opened = await Promise.all(
				Array.from({ length: MAX_OPEN_INCIDENTS + 10 }, (_, index) =>
					dashboards[index % 2]!.dashboard.openIncident(ada, request)
				)
			);
			expect(incidentsIn(opened)).toHaveLength(MAX_OPEN_INCIDENTS);
			expect((await dashboards[1]!.store.snapshot('acme')).incidents).toHaveLength(
				MAX_OPEN_INCIDENTS
			);
		} finally {
			await Promise.all(dashboards.map(({ store }) => store.close()));
		}
	});

	it('resolve an incident at the same moment: one wins, the other is told it is resolved', async () => {
		const redis = await startRedisServer();
		const published: Published[] = [];
		const dashboards = [0, 1].map(() => {
			const store = new RedisDashboardStore(redis.url, { retention: 60_000 });
			const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => ['acme']);
			return { store, dashboard: new Dashboard(store, recordingPublisher(published), accounts) };
		});
		try {
			const [first, second] = dashboards.map(({ dashboard }) => dashboard);
			await first!.admit('acme');
			const { uuid } = await open(first!);
			// Updates racing from both sides are all kept: none overwrites another.
			await Promise.all(
				Array.from({ length: 10 }, (_, index) =>
					(index % 2 ? first : second)!.updateIncident(ada, uuid, `Update ${index}`)
				)
			);
			const results = await Promise.all([
				first!.resolveIncident(ada, uuid),
				second!.resolveIncident(grace, uuid)
			]);
			expect(results.filter((result) => typeof result == 'object')).toHaveLength(1);
			expect(results).toContain('resolved');
			const [incident] = (await dashboards[0]!.store.snapshot('acme')).incidents;
			expect(incident!.timeline.filter((entry) => entry.kind == 'update')).toHaveLength(10);
			expect(incident!.timeline.filter((entry) => entry.kind == 'resolved')).toHaveLength(1);
		} finally {
			await Promise.all(dashboards.map(({ store }) => store.close()));
		}
	});
});
