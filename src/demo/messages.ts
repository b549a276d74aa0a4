// The dashboard's messages, shared by the server and the page: one name and one type per message, so
// both ends always agree. The page takes these as they are, without a schema: everything it
// receives was published by its own server, which validated it first against the schemas in
// schemas.ts (the server's `Validated` definitions), as it validates whatever a page sends.
// Only types come from shapes.ts, so this module costs the page no zod.
import { ClientMessage } from 'runesocket';
import type {
	Activity,
	Archived,
	Check,
	Incident,
	IncidentTarget,
	IncidentUpdateData,
	Monitor,
	MonitorCheck,
	OpenIncidentData,
	PingData,
	Span,
	TimelineEntry
} from './shapes.js';

export type {
	Activity,
	Archived,
	Check,
	Incident,
	IncidentTarget,
	IncidentUpdateData,
	Monitor,
	MonitorCheck,
	OpenIncidentData,
	PingData,
	Span,
	TimelineEntry
};

/**
 * An incident as it is now (the whole incident, timeline included), to the account's room: when it
 * opens, and with every acknowledgement, update and resolution.
 */
export const IncidentChanged = ClientMessage.define<Incident>('incident.changed');

/** A resolved incident dropped off the recently-resolved list, to the account's room. */
export const IncidentArchived = ClientMessage.define<Archived>('incident.archived');

/**
 * A monitor's new status (the whole monitor, its history included), to its project's room. Only the
 * newest matters, so it is conflated per monitor: a page that falls behind gets the monitor as it is
 * now, not every status it went through.
 */
export const MonitorStatusChanged = ClientMessage.define<Monitor>('monitor.status-changed', {
	conflationKey: (monitor) => monitor.uuid
});

/**
 * One check of a monitor (its response time and its number, `seq`), to its project's room: many per
 * second. Conflated per monitor: a page that falls behind gets each monitor's newest check and skips
 * the ones in between, which its sparkline shows as a gap (the numbers it never got), not as a line.
 */
export const MonitorChecked = ClientMessage.define<MonitorCheck>('monitor.checked', {
	conflationKey: (check) => check.uuid
});

/** One line of the activity feed, to the account's room. */
export const ActivityLogged = ClientMessage.define<Activity>('activity.logged');

/** Asks for the account's whole dashboard; the reply is a `DashboardSnapshot`. */
export const SnapshotRequested = ClientMessage.define<Record<string, never>>('dashboard.snapshot');

/** A request the page may send to measure a round trip; the reply echoes `sentAt`. */
export const Ping = ClientMessage.define<PingData>('demo.ping');

/**
 * Asks to open an incident with the id the page made (`uuid`); the reply is empty, and the incident
 * comes to every page as `IncidentChanged`. A refusal is an error of code `REFUSED`.
 */
export const OpenIncident = ClientMessage.define<OpenIncidentData>('incident.open');

/** Asks to acknowledge an open incident: the asker is on it. Answered like `OpenIncident`. */
export const AcknowledgeIncident = ClientMessage.define<IncidentTarget>('incident.acknowledge');

/** Asks to add an update to an unresolved incident's timeline. Answered like `OpenIncident`. */
export const UpdateIncident = ClientMessage.define<IncidentUpdateData>('incident.update');

/** Asks to resolve an incident. Answered like `OpenIncident`. */
export const ResolveIncident = ClientMessage.define<IncidentTarget>('incident.resolve');

/**
 * The code of a request's error when the dashboard refused what it asked (someone else was faster,
 * a rule of incident-rules.ts): its message says why, in words for the person who asked.
 */
export const REFUSED = 'refused';

export { CHECKS_KEPT, MAX_TITLE_LENGTH, MAX_UPDATE_LENGTH, UPTIME_WINDOW } from './limits.js';

/** The rooms of one account: its own, and one per project. */
export const accountRoom = (account: string) => `account:${account}`;
export const projectRoom = (account: string, project: string) => `project:${account}/${project}`;
