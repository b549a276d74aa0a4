// The dashboard's messages, shared by the server and the page: one name and one type per message, so
// both ends always agree. The page takes these as they are, without a schema: everything it
// receives was published by its own server, which validated it first against the schemas in
// schemas.ts (the server's `Validated` definitions), as it validates whatever a page sends.
// Only types come from schemas.ts, so this module costs the page no zod.
import { ClientMessage } from 'runesocket';
import type { Activity, Incident, Monitor, PingData, Resolution } from './schemas.js';

export type { Activity, Incident, Monitor, PingData, Resolution };

/** A new incident, to the account's room. */
export const IncidentCreated = ClientMessage.define<Incident>('incident.created');

/** An incident was resolved, to the account's room. */
export const IncidentResolved = ClientMessage.define<Resolution>('incident.resolved');

/** A monitor's new state (the whole monitor), to its project's room. */
export const MonitorStatusChanged = ClientMessage.define<Monitor>('monitor.status-changed');

/** One line of the activity feed, to the account's room. */
export const ActivityLogged = ClientMessage.define<Activity>('activity.logged');

/** Asks for the account's whole dashboard; the reply is a `DashboardSnapshot`. */
export const SnapshotRequested = ClientMessage.define<Record<string, never>>('dashboard.snapshot');

/** A request the page may send to measure a round trip; the reply echoes `sentAt`. */
export const Ping = ClientMessage.define<PingData>('demo.ping');

/** The rooms of one account: its own, and one per project. */
export const accountRoom = (account: string) => `account:${account}`;
export const projectRoom = (account: string, project: string) => `project:${account}/${project}`;
