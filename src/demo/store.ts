import type { StreamPosition } from 'runesocket';
import type { Activity, Incident, Monitor } from './messages.js';

/** What one account's dashboard shows when it loads. */
export interface DashboardState {
	incidents: Incident[];
	monitors: Monitor[];
	activity: Activity[];
}

/**
 * The state and where each of the account's rooms stood just before it was read: joining from those
 * positions replays every change made since, so the page misses nothing between load and socket.
 */
export interface DashboardSnapshot extends DashboardState {
	positions: Record<string, StreamPosition>;
}

/**
 * Where the demo keeps its state. Asynchronous, so a shared store can replace the in-memory one when
 * several server processes serve one dashboard.
 */
export interface DashboardStore {
	accounts(): Promise<string[]>;
	/** Creates the account with its seeded monitors if it does not exist yet. */
	ensureAccount(account: string, monitors: Monitor[]): Promise<void>;
	snapshot(account: string): Promise<DashboardState>;
	addIncident(incident: Incident): Promise<void>;
	/** Removes an open incident; `undefined` when there was none with that id. */
	removeIncident(account: string, uuid: string): Promise<Incident | undefined>;
	putMonitor(monitor: Monitor): Promise<void>;
	addActivity(account: string, activity: Activity): Promise<void>;
}

/** How many activity lines an account keeps. */
export const ACTIVITY_KEPT = 30;

interface AccountState {
	incidents: Map<string, Incident>;
	monitors: Map<string, Monitor>;
	activity: Activity[];
}

/** The single-process store: plain maps in memory. */
export class MemoryDashboardStore implements DashboardStore {
	#accounts = new Map<string, AccountState>();

	async accounts(): Promise<string[]> {
		return [...this.#accounts.keys()];
	}

	async ensureAccount(account: string, monitors: Monitor[]): Promise<void> {
		if (this.#accounts.has(account)) return;
		this.#accounts.set(account, {
			incidents: new Map(),
			monitors: new Map(monitors.map((monitor) => [monitor.uuid, monitor])),
			activity: []
		});
	}

	async snapshot(account: string): Promise<DashboardState> {
		const state = this.#accounts.get(account);
		return {
			incidents: [...(state?.incidents.values() ?? [])],
			monitors: [...(state?.monitors.values() ?? [])],
			activity: [...(state?.activity ?? [])]
		};
	}

	async addIncident(incident: Incident): Promise<void> {
		this.#accounts.get(incident.account)?.incidents.set(incident.uuid, incident);
	}

	async removeIncident(account: string, uuid: string): Promise<Incident | undefined> {
		const incidents = this.#accounts.get(account)?.incidents;
		const incident = incidents?.get(uuid);
		incidents?.delete(uuid);
		return incident;
	}

	async putMonitor(monitor: Monitor): Promise<void> {
		this.#accounts.get(monitor.account)?.monitors.set(monitor.uuid, monitor);
	}

	async addActivity(account: string, activity: Activity): Promise<void> {
		const state = this.#accounts.get(account);
		if (!state) return;
		state.activity = [activity, ...state.activity].slice(0, ACTIVITY_KEPT);
	}
}
