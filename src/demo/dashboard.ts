import { randomUUID } from 'node:crypto';
import type { MessageDefinition, StreamPosition } from 'runesocket';
import { accountRoom, CHECKS_KEPT, projectRoom, UPTIME_WINDOW } from './messages.js';
import type { z } from 'zod';
import type { IncidentRefusal, NewIncident } from './incident-rules.js';
import { MAX_OPEN_INCIDENTS, MAX_SPANS, MAX_TIMELINE } from './limits.js';
import { isProject, PROJECTS } from './projects.js';
import {
	IncidentSchema,
	MonitorSchema,
	type Activity,
	type Incident,
	type Monitor,
	type Span,
	type TimelineEntry
} from './shapes.js';
import { Validated } from './schemas.js';
import type { DemoUser } from './session.js';
import { slug } from './session.js';
import type { DemoAccounts } from './accounts.js';
import type { DashboardSnapshot, DashboardState, DashboardStore } from './store.js';
import { newTeamRefusal } from './team-quota.js';

// Read by the wiring test and the server from here, where the accounts' monitors are seeded.
export { PROJECTS };

/**
 * A monitor as a new account first sees it: up, with a plausible past (a few minutes of checks and
 * an hour of status with a blip or two), so the page has something to draw from the first paint.
 */
function seedMonitor(account: string, project: string, name: string, now: number): Monitor {
	const uuid = `${account}/${project}/${slug(name)}`;
	const checks = Array.from({ length: CHECKS_KEPT }, (_, index) => ({
		at: now - (CHECKS_KEPT - index) * SEED_CHECK_SPACING,
		ms: probe(uuid, 'up'),
		seq: index + 1
	}));
	const spans: Span[] = [{ at: now - UPTIME_WINDOW, status: 'up' }];
	for (const minutesAgo of [50, 23]) {
		if (Math.random() < 0.5) continue;
		const at = now - minutesAgo * 60_000;
		spans.push({ at, status: Math.random() < 0.7 ? 'degraded' : 'down' });
		spans.push({ at: at + (1 + Math.random() * 3) * 60_000, status: 'up' });
	}
	return { uuid, account, project, name, status: 'up', changedAt: now, checks, spans };
}

function seedMonitors(account: string): Monitor[] {
	const now = Date.now();
	return Object.entries(PROJECTS).flatMap(([project, names]) =>
		names.map((name) => seedMonitor(account, project, name, now))
	);
}

/** How far apart the seeded checks are, in ms: the simulator's default check interval. */
const SEED_CHECK_SPACING = 2_000;

/** A typical response time per monitor, in ms: the same monitor is always about as fast. */
function baseline(uuid: string): number {
	let hash = 0;
	for (const character of uuid) hash = (hash * 31 + character.charCodeAt(0)) >>> 0;
	return 40 + (hash % 160);
}

/**
 * A plausible response time for a monitor in a status: its baseline with some noise and the odd
 * spike when up, several times slower when degraded, none when down.
 */
export function probe(uuid: string, status: Monitor['status']): number | null {
	if (status == 'down') return null;
	const noise = Math.exp((Math.random() - 0.5) * 0.5);
	const spike = Math.random() < 0.04 ? 2 + Math.random() * 2 : 1;
	const slowdown = status == 'degraded' ? 3 + Math.random() * 3 : 1;
	return Math.round(baseline(uuid) * noise * spike * slowdown);
}

/** Adds `item` at the end of `items`, keeping the newest `limit`. */
function appendKept<T>(items: readonly T[], item: T, limit: number): T[] {
	return [...items, item].slice(-limit);
}

/**
 * The status spans still needed to draw the last `UPTIME_WINDOW`: those in it, and the one it began
 * in; of a monitor flapping faster than `MAX_SPANS` in the window, the newest `MAX_SPANS`.
 */
function withinUptimeWindow(spans: Span[], now: number): Span[] {
	const firstInWindow = spans.findIndex((span) => span.at > now - UPTIME_WINDOW);
	if (firstInWindow == -1) return spans.slice(-1);
	return spans.slice(Math.max(0, firstInWindow - 1, spans.length - MAX_SPANS));
}

/**
 * Why `incident` cannot take a timeline entry of `kind`, if it cannot. Every entry but the
 * resolution leaves the timeline's last place free, so an incident can always be resolved.
 */
function refusalOf(incident: Incident, kind: TimelineEntry['kind']): IncidentRefusal | undefined {
	if (incident.status == 'resolved') return 'resolved';
	if (kind == 'acknowledged' && incident.status != 'open') return 'acknowledged';
	if (kind != 'resolved' && incident.timeline.length >= MAX_TIMELINE - 1) return 'full';
	return undefined;
}

/**
 * `value` when `schema` accepts it: checked before it is written, so nothing is stored that
 * publishing (which checks the same schema) would then refuse. A TypeError says what is wrong.
 */
function valid<T>(schema: z.ZodType<T>, value: T): T {
	const checked = schema.safeParse(value);
	if (checked.success) return checked.data;
	const problems = checked.error.issues.map(
		(issue) => `${issue.path.join('.') || 'value'}: ${issue.message}`
	);
	throw new TypeError(`Nothing was changed: ${problems.join('; ')}`);
}

/** What a user is told when a new team would exceed the account limit and no team is idle. */
export const DEMO_FULL =
	'The demo is full: every team on it is in use. Try again in a few minutes.';

/** How many resolved incidents an account keeps showing; older ones are archived. */
export const RESOLVED_KEPT = 10;

/**
 * What the dashboard publishes through: the socket server (`SocketServer`) in a server process, a
 * `RedisPublisher` in the simulator's own process. Both put a room's messages in one sequence.
 */
export interface RoomPublisher {
	to(room: string): {
		emit<Data>(definition: MessageDefinition<Data>, data: Data): Promise<unknown>;
	};
	position(room: string): Promise<StreamPosition>;
}

/**
 * The dashboard's behaviour: every change goes to the store, then out through the socket server to
 * the rooms that should see it, with a line for the activity feed. Accounts come and go under the
 * limits `DemoAccounts` enforces.
 */
export class Dashboard {
	readonly #store: DashboardStore;
	readonly #sockets: RoomPublisher;
	readonly #accounts: DemoAccounts;
	/** Per account, the end of its latest incident change: the next one starts after it. */
	readonly #queues = new Map<string, Promise<void>>();

	constructor(store: DashboardStore, sockets: RoomPublisher, accounts: DemoAccounts) {
		this.#store = store;
		this.#sockets = sockets;
		this.#accounts = accounts;
	}

	/**
	 * Opens the account for a signed-in user, creating it if needed; false when the demo is full, or
	 * when the client at address `from` has created as many teams as it may for now (`newTeamWait`).
	 */
	admit(account: string, from?: string): Promise<boolean> {
		return this.#accounts.admit(account, () => seedMonitors(account), from);
	}

	/** Milliseconds until the client at address `from` may create a new team: 0 when it may now. */
	newTeamWait(from: string): number {
		return this.#accounts.newTeamWait(from);
	}

	/**
	 * Opens the account for a request from address `from` (`admit`): `undefined` when it may, else
	 * the refusal's HTTP status and its words. What a page load, a form and a socket request ask.
	 */
	async admission(
		account: string,
		from: string
	): Promise<{ status: 429 | 503; message: string } | undefined> {
		if (await this.admit(account, from)) return undefined;
		const wait = this.newTeamWait(from);
		return wait > 0
			? { status: 429, message: newTeamRefusal(wait) }
			: { status: 503, message: DEMO_FULL };
	}

	/** The accounts someone is using right now: the only ones the simulator changes. */
	liveAccounts(): Promise<string[]> {
		return this.#accounts.live();
	}

	/** The account's state, without marking it active. */
	state(account: string): Promise<DashboardState> {
		return this.#store.snapshot(account);
	}

	/**
	 * Positions first, then the state: a change in between is in both, and replaying it is harmless.
	 * The account must have been admitted.
	 */
	async snapshot(account: string): Promise<DashboardSnapshot> {
		const rooms = [
			accountRoom(account),
			...Object.keys(PROJECTS).map((p) => projectRoom(account, p))
		];
		const positions = await Promise.all(rooms.map((room) => this.#sockets.position(room)));
		const state = await this.#store.snapshot(account);
		return {
			...state,
			positions: Object.fromEntries(rooms.map((room, i) => [room, positions[i]]))
		};
	}

	/**
	 * Opens an incident of id `uuid` (a page makes its own, so that what it shows at once and what
	 * the server sends share one); refused when the account has `MAX_OPEN_INCIDENTS` open already,
	 * or has an incident of that id. Throws a TypeError, writing nothing, when the request breaks
	 * the incident's schema (an unknown project, an empty or too long title): `checkNewIncident`
	 * says so in words before anyone asks.
	 */
	openIncident(
		user: DemoUser,
		request: NewIncident,
		uuid: string = randomUUID()
	): Promise<Incident | IncidentRefusal> {
		return this.#serially(user.account, async () => {
			const now = Date.now();
			const incident = valid(IncidentSchema, {
				uuid,
				account: user.account,
				project: request.project,
				title: request.title,
				severity: request.severity,
				status: 'open',
				createdAt: now,
				createdBy: user.name,
				timeline: [{ kind: 'opened', at: now, by: user.name }]
			});
			if (!isProject(incident.project))
				throw new TypeError(`No project is named ${JSON.stringify(incident.project)}`);
			const added = await this.#store.addIncident(incident, MAX_OPEN_INCIDENTS);
			if (added != 'added') return added;
			await this.#announce(incident);
			await this.#log(user.account, 'incident.opened', `${user.name} opened “${incident.title}”`);
			return incident;
		});
	}

	/** Marks an open incident as being handled by `user`; refused once acknowledged or resolved. */
	acknowledgeIncident(user: DemoUser, uuid: string): Promise<Incident | IncidentRefusal> {
		return this.#serially(user.account, async () => {
			const result = await this.#changeIncident(user, uuid, { kind: 'acknowledged' }, (incident) =>
				incident.status == 'open' ? 'acknowledged' : incident.status
			);
			if (typeof result != 'object') return result;
			await this.#announce(result);
			await this.#log(
				user.account,
				'incident.acknowledged',
				`${user.name} is on “${result.title}”`
			);
			return result;
		});
	}

	/**
	 * Adds an update to an unresolved incident's timeline. Throws a TypeError, writing nothing, when
	 * `text` is empty or longer than `MAX_UPDATE_LENGTH`.
	 */
	updateIncident(user: DemoUser, uuid: string, text: string): Promise<Incident | IncidentRefusal> {
		return this.#serially(user.account, async () => {
			const result = await this.#changeIncident(
				user,
				uuid,
				{ kind: 'update', text },
				(incident) => incident.status
			);
			if (typeof result != 'object') return result;
			await this.#announce(result);
			await this.#log(
				user.account,
				'incident.updated',
				`${user.name} on “${result.title}”: ${text}`
			);
			return result;
		});
	}

	/**
	 * Resolves an incident; refused when it is already resolved (or never was). The account then
	 * keeps only the newest `RESOLVED_KEPT` resolved incidents.
	 */
	resolveIncident(user: DemoUser, uuid: string): Promise<Incident | IncidentRefusal> {
		return this.#serially(user.account, async () => {
			const result = await this.#changeIncident(user, uuid, { kind: 'resolved' }, () => 'resolved');
			if (typeof result != 'object') return result;
			// Archived in the store before anything is sent: a publish that fails must not leave the
			// account over its limit for good.
			const archived = await this.#archiveResolved(user.account, result.uuid);
			await this.#announce(result);
			for (const old of archived)
				await this.#sockets
					.to(accountRoom(user.account))
					.emit(Validated.IncidentArchived, { uuid: old });
			await this.#log(user.account, 'incident.resolved', `${user.name} resolved “${result.title}”`);
			return result;
		});
	}

	/**
	 * Runs one account's incident changes one at a time, each from its write to its last publish:
	 * the pages get the changes in the order the store made them (two changes of one incident sent
	 * the other way round would leave the pages on the older one), and a resolve's archiving sees
	 * every resolve before it.
	 */
	#serially<T>(account: string, task: () => Promise<T>): Promise<T> {
		const result = (this.#queues.get(account) ?? Promise.resolve()).then(task);
		const settled = result.then(
			() => {},
			() => {}
		);
		this.#queues.set(account, settled);
		// The last change of an account clears its queue, so idle accounts leave nothing behind.
		void settled.then(() => {
			if (this.#queues.get(account) == settled) this.#queues.delete(account);
		});
		return result;
	}

	/**
	 * Adds an entry to the incident's timeline and moves it to the status `next` gives (which may
	 * refuse by naming the status it is in). The changed incident is checked against its schema
	 * before it is written: nothing is stored that publishing it would then refuse.
	 */
	async #changeIncident(
		user: DemoUser,
		uuid: string,
		entry: Pick<TimelineEntry, 'kind' | 'text'>,
		next: (incident: Incident) => Incident['status']
	): Promise<Incident | IncidentRefusal> {
		let refusal: IncidentRefusal = 'not-found';
		const changed = await this.#store.changeIncident(user.account, uuid, (incident) => {
			const refused = refusalOf(incident, entry.kind);
			if (refused) {
				refusal = refused;
				return undefined;
			}
			return valid(IncidentSchema, {
				...incident,
				status: next(incident),
				timeline: [...incident.timeline, { ...entry, at: Date.now(), by: user.name }]
			});
		});
		return changed ?? refusal;
	}

	/**
	 * Keeps the newest `RESOLVED_KEPT` resolved incidents, `justResolved` always among them, and
	 * returns the ids of those it removed. Several resolved within one millisecond tie on time, and
	 * without that rule the one just resolved could go at once (seen in CI).
	 */
	async #archiveResolved(account: string, justResolved: string): Promise<string[]> {
		const { incidents } = await this.#store.snapshot(account);
		const others = incidents
			.filter((incident) => incident.status == 'resolved' && incident.uuid != justResolved)
			.sort((a, b) => b.timeline.at(-1)!.at - a.timeline.at(-1)!.at);
		const archived: string[] = [];
		for (const old of others.slice(RESOLVED_KEPT - 1)) {
			// Only the process whose removal took it tells the pages: two at once publish it once.
			if (await this.#store.removeIncident(account, old.uuid)) archived.push(old.uuid);
		}
		return archived;
	}

	#announce(incident: Incident): Promise<unknown> {
		return this.#sockets
			.to(accountRoom(incident.account))
			.emit(Validated.IncidentChanged, incident);
	}

	/** Moves a monitor to `status`, remembering the change for its uptime bar. */
	async setMonitorStatus(monitor: Monitor, status: Monitor['status']): Promise<Monitor> {
		const now = Date.now();
		const changed = valid(MonitorSchema, {
			...monitor,
			status,
			changedAt: now,
			spans: withinUptimeWindow([...monitor.spans, { at: now, status }], now)
		});
		await this.#store.putMonitor(changed);
		await this.#sockets
			.to(projectRoom(monitor.account, monitor.project))
			.emit(Validated.MonitorStatusChanged, changed);
		await this.#log(monitor.account, 'monitor.status-changed', `${monitor.name} is ${status}`);
		return changed;
	}

	/** Records one check of a monitor (its response time, or none) and sends it to the pages. */
	async recordCheck(monitor: Monitor, ms: number | null): Promise<Monitor> {
		const check = { at: Date.now(), ms, seq: (monitor.checks.at(-1)?.seq ?? 0) + 1 };
		const checked: Monitor = { ...monitor, checks: appendKept(monitor.checks, check, CHECKS_KEPT) };
		await this.#store.putMonitor(checked);
		await this.#sockets
			.to(projectRoom(monitor.account, monitor.project))
			.emit(Validated.MonitorChecked, { uuid: monitor.uuid, ...check });
		return checked;
	}

	async #log(account: string, kind: Activity['kind'], text: string): Promise<void> {
		const activity: Activity = { id: randomUUID(), at: Date.now(), kind, text };
		await this.#store.addActivity(account, activity);
		await this.#sockets.to(accountRoom(account)).emit(Validated.ActivityLogged, activity);
	}
}
