import { probe, type Dashboard } from './dashboard.js';
import type { Monitor } from './messages.js';
import type { DemoUser } from './session.js';

/** How often the simulator acts, in ms; 0 turns a kind of change off. */
export interface SimulatorRates {
	monitorInterval: number;
	incidentInterval: number;
	checkInterval: number;
}

/**
 * Rates from the environment: DEMO_MONITOR_INTERVAL_MS (a status change, default 4 s),
 * DEMO_INCIDENT_INTERVAL_MS (an incident opened, acknowledged, updated or resolved, default 20 s) and
 * DEMO_CHECK_INTERVAL_MS (every monitor checked, default 2 s).
 */
export function ratesFromEnvironment(env: Record<string, string | undefined>): SimulatorRates {
	const rate = (value: string | undefined, fallback: number) => {
		const parsed = Number(value);
		return value !== undefined && Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
	};
	return {
		monitorInterval: rate(env.DEMO_MONITOR_INTERVAL_MS, 4_000),
		incidentInterval: rate(env.DEMO_INCIDENT_INTERVAL_MS, 20_000),
		checkInterval: rate(env.DEMO_CHECK_INTERVAL_MS, 2_000)
	};
}

const ROBOT: DemoUser = { name: 'Simulator', account: '' };
const TROUBLES = [
	'Elevated error rate',
	'Slow responses',
	'Certificate expires soon',
	'Queue backlog'
];
const PROGRESS = [
	'Looking at the dashboards',
	'Cause found, fix in review',
	'Fix deployed, watching it'
];

function pick<T>(items: readonly T[]): T | undefined {
	return items[Math.floor(Math.random() * items.length)];
}

/** A monitor's next state: healthy ones degrade or fail, unhealthy ones recover. */
function nextStatus(monitor: Monitor): Monitor['status'] {
	if (monitor.status != 'up') return 'up';
	return Math.random() < 0.6 ? 'degraded' : 'down';
}

/**
 * Keeps the demo alive in every account someone is using, at the given rates: checks every monitor
 * (a response time for its sparkline), flaps monitors, and takes incidents through their life.
 * Returns a function that stops it.
 */
export function startSimulator(dashboard: Dashboard, rates: SimulatorRates): () => void {
	const timers: ReturnType<typeof setInterval>[] = [];
	// One round at a time, whatever its kind: each reads monitors and writes them back whole, so two
	// at once would undo each other's writes.
	let previousRound = Promise.resolve();
	const everyLiveAccount = (act: (account: string) => Promise<unknown>) => {
		// A round that outlasts its interval (a slow Redis) is not queued a second time.
		let waiting = false;
		return () => {
			if (waiting) return;
			waiting = true;
			previousRound = previousRound.then(async () => {
				try {
					for (const account of await dashboard.liveAccounts()) await act(account).catch(() => {});
				} catch {
					// The accounts could not be listed; the next round tries again.
				} finally {
					waiting = false;
				}
			});
		};
	};
	const check = async (account: string) => {
		for (const monitor of (await dashboard.state(account)).monitors)
			await dashboard.recordCheck(monitor, probe(monitor.uuid, monitor.status));
	};
	const flap = async (account: string) => {
		const { monitors } = await dashboard.state(account);
		// Mostly the unhealthy ones recover: real fleets are up most of the time, with a few blips.
		const unhealthy = monitors.filter((monitor) => monitor.status != 'up');
		const monitor = pick(unhealthy.length && Math.random() < 0.7 ? unhealthy : monitors);
		if (monitor) await dashboard.setMonitorStatus(monitor, nextStatus(monitor));
	};
	const churn = async (account: string) => {
		const robot = { ...ROBOT, account };
		const mine = (await dashboard.state(account)).incidents.filter(
			(incident) => incident.createdBy == ROBOT.name && incident.status != 'resolved'
		);
		const incident = Math.random() < 0.7 ? pick(mine) : undefined;
		if (!incident) {
			await dashboard.openIncident(robot, {
				title: pick(TROUBLES)!,
				severity: pick(['critical', 'warning', 'info'] as const)!,
				project: pick(['web', 'api', 'data'])!
			});
		} else if (incident.status == 'open') {
			await dashboard.acknowledgeIncident(robot, incident.uuid);
		} else {
			const updates = incident.timeline.filter((entry) => entry.kind == 'update').length;
			const progress = PROGRESS[updates];
			if (progress && Math.random() < 0.6)
				await dashboard.updateIncident(robot, incident.uuid, progress);
			else await dashboard.resolveIncident(robot, incident.uuid);
		}
	};
	const every = (interval: number, act: (account: string) => Promise<unknown>) => {
		if (interval > 0) timers.push(setInterval(everyLiveAccount(act), interval));
	};
	every(rates.checkInterval, check);
	every(rates.monitorInterval, flap);
	every(rates.incidentInterval, churn);
	for (const timer of timers) timer.unref();
	return () => timers.forEach((timer) => clearInterval(timer));
}

/**
 * Milliseconds the simulator's lease lasts without renewal (DEMO_SIMULATOR_LEASE_MS, default 10 s):
 * how long the demo goes without a simulator after the process running it died.
 */
export function leaseFromEnvironment(env: Record<string, string | undefined>): number {
	const parsed = Number(env.DEMO_SIMULATOR_LEASE_MS);
	return Number.isSafeInteger(parsed) && parsed >= 30 ? parsed : 10_000;
}
