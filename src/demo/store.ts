import type { StreamPosition } from 'runesocket';
import type { Activity, Incident, Monitor } from './messages.js';
import { MemorySessionRevocations, type SessionRevocations } from './sessions.js';

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

/** An account, and when it was last used (ms since the Unix epoch). */
export interface AccountActivity {
	account: string;
	activeAt: number;
}

/**
 * Where the demo keeps its state, and the sessions signed out. Asynchronous, so a shared store can
 * replace the in-memory one when several server processes serve one dashboard. A write to an account
 * that does not exist (any more) is dropped, or kept only until it expires.
 */
export interface DashboardStore extends SessionRevocations {
	/** Every account, least recently active first. */
	accounts(): Promise<AccountActivity[]>;
	/** Creates the account with its seeded monitors if it does not exist yet; either way active at `now`. */
	ensureAccount(account: string, monitors: Monitor[], now: number): Promise<void>;
	/** Marks the accounts that exist active at `now`; missing ones stay missing. */
	touch(accounts: string[], now: number): Promise<void>;
	/** Forgets the account and everything in it. */
	removeAccount(account: string): Promise<void>;
	snapshot(account: string): Promise<DashboardState>;
	/**
	 * Adds the incident unless its account already has `maxOpen` that are not resolved, or one of
	 * its id, in one step (two processes adding at once cannot both take the last place, nor both
	 * add one id): 'added', or why not.
	 */
	addIncident(incident: Incident, maxOpen: number): Promise<IncidentAdded>;
	/**
	 * Replaces an incident with what `change` makes of it, atomically: a concurrent change (another
	 * process resolving it) makes `change` run again on the newer incident. `change` returns
	 * `undefined` to refuse; the result is `undefined` then, or when there was no such incident.
	 */
	changeIncident(
		account: string,
		uuid: string,
		change: (incident: Incident) => Incident | undefined
	): Promise<Incident | undefined>;
	/** Forgets an incident; `undefined` when there was none with that id. */
	removeIncident(account: string, uuid: string): Promise<Incident | undefined>;
	putMonitor(monitor: Monitor): Promise<void>;
	addActivity(account: string, activity: Activity): Promise<void>;
}

/** What became of an incident to add: added, or refused (too many open, or its id is taken). */
export type IncidentAdded = 'added' | 'too-many-open' | 'taken';

/** How many activity lines an account keeps. */
export const ACTIVITY_KEPT = 30;

interface AccountState {
	activeAt: number;
	incidents: Map<string, Incident>;
	monitors: Map<string, Monitor>;
	activity: Activity[];
}

/** The single-process store: plain maps in memory. */
export class MemoryDashboardStore implements DashboardStore {
	/** Kept least recently active first: marking one active moves it to the end. */
	#accounts = new Map<string, AccountState>();
	#revocations = new MemorySessionRevocations();

	revokeSession(sid: string, ttl: number): Promise<void> {
		return this.#revocations.revokeSession(sid, ttl);
	}

	isSessionRevoked(sid: string): Promise<boolean> {
		return this.#revocations.isSessionRevoked(sid);
	}

	async accounts(): Promise<AccountActivity[]> {
		return [...this.#accounts].map(([account, state]) => ({ account, activeAt: state.activeAt }));
	}

	async ensureAccount(account: string, monitors: Monitor[], now: number): Promise<void> {
		if (this.#accounts.has(account)) return this.touch([account], now);
		this.#accounts.set(account, {
			activeAt: now,
			incidents: new Map(),
			monitors: new Map(monitors.map((monitor) => [monitor.uuid, monitor])),
			activity: []
		});
	}

	async touch(accounts: string[], now: number): Promise<void> {
		for (const account of accounts) {
			const state = this.#accounts.get(account);
			if (!state) continue;
			state.activeAt = now;
			this.#accounts.delete(account);
			this.#accounts.set(account, state);
		}
	}

	async removeAccount(account: string): Promise<void> {
		this.#accounts.delete(account);
	}

	async snapshot(account: string): Promise<DashboardState> {
		const state = this.#accounts.get(account);
		return {
			incidents: [...(state?.incidents.values() ?? [])],
			monitors: [...(state?.monitors.values() ?? [])],
			activity: [...(state?.activity ?? [])]
		};
	}

	async addIncident(incident: Incident, maxOpen: number): Promise<IncidentAdded> {
		const incidents = this.#accounts.get(incident.account)?.incidents;
		// A write to an account that is gone is dropped: as full, the person is told nothing was opened.
		if (!incidents) return 'too-many-open';
		if (incidents.has(incident.uuid)) return 'taken';
		const open = [...incidents.values()].filter((known) => known.status != 'resolved').length;
		if (open >= maxOpen) return 'too-many-open';
		incidents.set(incident.uuid, incident);
		return 'added';
	}

	async changeIncident(
		account: string,
		uuid: string,
		change: (incident: Incident) => Incident | undefined
	): Promise<Incident | undefined> {
		const incidents = this.#accounts.get(account)?.incidents;
		const incident = incidents?.get(uuid);
		const changed = incident && change(incident);
		if (changed) incidents!.set(uuid, changed);
		return changed;
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
