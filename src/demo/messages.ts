// The dashboard's messages, shared by the server (which publishes and validates them) and the page
// (which validates what it receives). One module, so both ends always agree.
import { ClientMessage } from 'runesocket';
import { z } from 'zod';

// Zod compiles object parsers with `new Function` when it may. The page's CSP forbids eval, and
// zod's probe for it would be reported as a violation on every load: parse without compiling.
z.config({ jitless: true });

export const Severity = z.enum(['critical', 'warning', 'info']);
export const MonitorStatus = z.enum(['up', 'degraded', 'down']);

export const IncidentSchema = z.object({
	uuid: z.string(),
	account: z.string(),
	project: z.string(),
	title: z.string().min(1).max(120),
	severity: Severity,
	createdAt: z.number(),
	createdBy: z.string()
});
export type Incident = z.infer<typeof IncidentSchema>;

export const MonitorSchema = z.object({
	uuid: z.string(),
	account: z.string(),
	project: z.string(),
	name: z.string(),
	status: MonitorStatus,
	changedAt: z.number()
});
export type Monitor = z.infer<typeof MonitorSchema>;

export const ActivitySchema = z.object({
	id: z.string(),
	at: z.number(),
	kind: z.enum(['incident.created', 'incident.resolved', 'monitor.status-changed']),
	text: z.string()
});
export type Activity = z.infer<typeof ActivitySchema>;

/** A new incident, to the account's room. */
export const IncidentCreated = ClientMessage.define('incident.created', IncidentSchema);

/** An incident was resolved, to the account's room. */
export const IncidentResolved = ClientMessage.define(
	'incident.resolved',
	z.object({ uuid: z.string(), resolvedAt: z.number(), resolvedBy: z.string() })
);

/** A monitor's new state (the whole monitor), to its project's room. */
export const MonitorStatusChanged = ClientMessage.define('monitor.status-changed', MonitorSchema);

/** One line of the activity feed, to the account's room. */
export const ActivityLogged = ClientMessage.define('activity.logged', ActivitySchema);

/** Asks for the account's whole dashboard; the reply is a `DashboardSnapshot`. */
export const SnapshotRequested = ClientMessage.define('dashboard.snapshot', z.object({}));

/** A request the page may send to measure a round trip; the reply echoes `sentAt`. */
export const Ping = ClientMessage.define('demo.ping', z.object({ sentAt: z.number() }));

/** The rooms of one account: its own, and one per project. */
export const accountRoom = (account: string) => `account:${account}`;
export const projectRoom = (account: string, project: string) => `project:${account}/${project}`;
