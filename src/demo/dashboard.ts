import { randomUUID } from 'node:crypto';
import type { MessageDefinition, StreamPosition } from 'runesocket/server';
import { accountRoom, projectRoom } from './messages.js';
import { Validated, type Activity, type Incident, type Monitor } from './schemas.js';
import type { DemoUser } from './session.js';
import { slug } from './session.js';
import type { DemoAccounts } from './accounts.js';
import type { DashboardSnapshot, DashboardState, DashboardStore } from './store.js';

/** The projects every demo account has, and the monitors each one watches. */
export const PROJECTS: Record<string, string[]> = {
	web: ['Homepage', 'Checkout'],
	api: ['REST API', 'Webhooks'],
	data: ['Postgres', 'Redis']
};

/** What a user may ask for when opening an incident. */
export interface NewIncident {
	title: string;
	severity: Incident['severity'];
	project: string;
}

function seedMonitors(account: string): Monitor[] {
	return Object.entries(PROJECTS).flatMap(([project, names]) =>
		names.map((name) => ({
			uuid: `${account}/${project}/${slug(name)}`,
			account,
			project,
			name,
			status: 'up' as const,
			changedAt: Date.now()
		}))
	);
}

/** What a user is told when a new team would exceed the account limit and no team is idle. */
export const DEMO_FULL =
	'The demo is full: every team on it is in use. Try again in a few minutes.';

/** How many incidents one account may have open: a form posted in a loop must not grow it forever. */
export const MAX_OPEN_INCIDENTS = 50;

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

	constructor(store: DashboardStore, sockets: RoomPublisher, accounts: DemoAccounts) {
		this.#store = store;
		this.#sockets = sockets;
		this.#accounts = accounts;
	}

	/** Opens the account for a signed-in user (creating it if needed); false when the demo is full. */
	admit(account: string): Promise<boolean> {
		return this.#accounts.admit(account, () => seedMonitors(account));
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

	/** Opens an incident; `undefined` when the account has `MAX_OPEN_INCIDENTS` open already. */
	async openIncident(user: DemoUser, request: NewIncident): Promise<Incident | undefined> {
		if ((await this.#store.countIncidents(user.account)) >= MAX_OPEN_INCIDENTS) return undefined;
		const incident: Incident = {
			uuid: randomUUID(),
			account: user.account,
			project: request.project,
			title: request.title,
			severity: request.severity,
			createdAt: Date.now(),
			createdBy: user.name
		};
		await this.#store.addIncident(incident);
		await this.#sockets.to(accountRoom(user.account)).emit(Validated.IncidentCreated, incident);
		await this.#log(user.account, 'incident.created', `${user.name} opened “${incident.title}”`);
		return incident;
	}

	/** Resolves an open incident; false when it was not open (already resolved, or never was). */
	async resolveIncident(user: DemoUser, uuid: string): Promise<boolean> {
		const incident = await this.#store.removeIncident(user.account, uuid);
		if (!incident) return false;
		const resolution = { uuid, resolvedAt: Date.now(), resolvedBy: user.name };
		await this.#sockets.to(accountRoom(user.account)).emit(Validated.IncidentResolved, resolution);
		await this.#log(user.account, 'incident.resolved', `${user.name} resolved “${incident.title}”`);
		return true;
	}

	async setMonitorStatus(monitor: Monitor, status: Monitor['status']): Promise<void> {
		const changed: Monitor = { ...monitor, status, changedAt: Date.now() };
		await this.#store.putMonitor(changed);
		await this.#sockets
			.to(projectRoom(monitor.account, monitor.project))
			.emit(Validated.MonitorStatusChanged, changed);
		await this.#log(monitor.account, 'monitor.status-changed', `${monitor.name} is ${status}`);
	}

	async #log(account: string, kind: Activity['kind'], text: string): Promise<void> {
		const activity: Activity = { id: randomUUID(), at: Date.now(), kind, text };
		await this.#store.addActivity(account, activity);
		await this.#sockets.to(accountRoom(account)).emit(Validated.ActivityLogged, activity);
	}
}
