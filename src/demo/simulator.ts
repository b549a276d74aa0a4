import type { Dashboard } from './dashboard.js';
import type { Monitor } from './messages.js';
import type { DemoUser } from './session.js';

/** How often the simulator acts, in ms; 0 turns a kind of change off. */
export interface SimulatorRates {
	monitorInterval: number;
	incidentInterval: number;
}

/** Rates from the environment: DEMO_MONITOR_INTERVAL_MS (default 4 s) and DEMO_INCIDENT_INTERVAL_MS (default 20 s). */
export function ratesFromEnvironment(env: Record<string, string | undefined>): SimulatorRates {
	const rate = (value: string | undefined, fallback: number) => {
		const parsed = Number(value);
		return value !== undefined && Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
	};
	return {
		monitorInterval: rate(env.DEMO_MONITOR_INTERVAL_MS, 4_000),
		incidentInterval: rate(env.DEMO_INCIDENT_INTERVAL_MS, 20_000)
	};
}

const ROBOT: DemoUser = { name: 'Simulator', account: '' };
const TROUBLES = [
	'Elevated error rate',
	'Slow responses',
	'Certificate expires soon',
	'Queue backlog'
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
 * Keeps the demo alive: flaps monitors and opens or resolves incidents in every account someone is
 * using, at the given rates. Returns a function that stops it.
 */
export function startSimulator(dashboard: Dashboard, rates: SimulatorRates): () => void {
	const timers: ReturnType<typeof setInterval>[] = [];
	const everyLiveAccount = (act: (account: string) => Promise<unknown>) => {
		// A round that outlasts its interval (a slow Redis) is not joined by another one.
		let running = false;
		return async () => {
			if (running) return;
			running = true;
			try {
				for (const account of await dashboard.liveAccounts()) await act(account).catch(() => {});
			} catch {
				// The accounts could not be listed; the next round tries again.
			} finally {
				running = false;
			}
		};
	};
	const flap = async (account: string) => {
		const monitor = pick((await dashboard.state(account)).monitors);
		if (monitor) await dashboard.setMonitorStatus(monitor, nextStatus(monitor));
	};
	const churn = async (account: string) => {
		const { incidents } = await dashboard.state(account);
		const robot = { ...ROBOT, account };
		const open = incidents.filter((incident) => incident.createdBy == ROBOT.name);
		if (open.length && Math.random() < 0.5) {
			await dashboard.resolveIncident(robot, pick(open)!.uuid);
			return;
		}
		await dashboard.openIncident(robot, {
			title: pick(TROUBLES)!,
			severity: pick(['critical', 'warning', 'info'] as const)!,
			project: pick(['web', 'api', 'data'])!
		});
	};
	if (rates.monitorInterval > 0)
		timers.push(setInterval(everyLiveAccount(flap), rates.monitorInterval));
	if (rates.incidentInterval > 0)
		timers.push(setInterval(everyLiveAccount(churn), rates.incidentInterval));
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
