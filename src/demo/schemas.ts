// What the dashboard's server checks data against, where it crosses a trust boundary: what a page
// sends (before a handler runs), what a form posts, and what the server publishes (runesocket's
// publish validates against the definition's schema before anything goes out). Server code only:
// the page imports messages.ts, whose definitions carry the same names and types without a schema,
// so zod never ships to the browser (about 25 KB of the route's JS gzip when it did).
import { ClientMessage, type MessageDefinition, type StandardSchema } from 'runesocket';
import { z } from 'zod';
import {
	ActivityLogged,
	CHECKS_KEPT,
	MAX_UPDATE_LENGTH,
	IncidentArchived,
	IncidentChanged,
	MonitorChecked,
	MonitorStatusChanged,
	Ping,
	SnapshotRequested
} from './messages.js';

export const Severity = z.enum(['critical', 'warning', 'info']);
export const MonitorStatus = z.enum(['up', 'degraded', 'down']);

/** How many entries an incident's timeline holds at most: opened, acknowledged, updates, resolved. */
export const MAX_TIMELINE = 30;

export const TimelineEntrySchema = z.object({
	kind: z.enum(['opened', 'acknowledged', 'update', 'resolved']),
	at: z.number(),
	by: z.string(),
	text: z.string().max(MAX_UPDATE_LENGTH).optional()
});
export type TimelineEntry = z.infer<typeof TimelineEntrySchema>;

export const IncidentSchema = z.object({
	uuid: z.string(),
	account: z.string(),
	project: z.string(),
	title: z.string().min(1).max(120),
	severity: Severity,
	status: z.enum(['open', 'acknowledged', 'resolved']),
	createdAt: z.number(),
	createdBy: z.string(),
	/** Oldest first; the first entry is always `opened`. */
	timeline: z.array(TimelineEntrySchema).min(1).max(MAX_TIMELINE)
});
export type Incident = z.infer<typeof IncidentSchema>;

export const ArchivedSchema = z.object({ uuid: z.string() });
export type Archived = z.infer<typeof ArchivedSchema>;

/** One probe of a monitor: when, and its response time (null: it got no answer). */
export const CheckSchema = z.object({ at: z.number(), ms: z.number().nonnegative().nullable() });
export type Check = z.infer<typeof CheckSchema>;

/** A status from `at` until the next span's `at` (or now). */
export const SpanSchema = z.object({ at: z.number(), status: MonitorStatus });
export type Span = z.infer<typeof SpanSchema>;

/** How many status changes a monitor carries at most: a fast flapping one drops its oldest. */
export const MAX_SPANS = 500;

export const MonitorSchema = z.object({
	uuid: z.string(),
	account: z.string(),
	project: z.string(),
	name: z.string(),
	status: MonitorStatus,
	changedAt: z.number(),
	/** The newest checks, oldest first. */
	checks: z.array(CheckSchema).max(CHECKS_KEPT),
	/** Status changes over the last `UPTIME_WINDOW`, oldest first, with the one in force when it began. */
	spans: z.array(SpanSchema).min(1).max(MAX_SPANS)
});
export type Monitor = z.infer<typeof MonitorSchema>;

/** A check as it goes out live, to the monitor's project room. */
export const MonitorCheckSchema = CheckSchema.extend({ uuid: z.string() });
export type MonitorCheck = z.infer<typeof MonitorCheckSchema>;

export const ActivitySchema = z.object({
	id: z.string(),
	at: z.number(),
	kind: z.enum([
		'incident.opened',
		'incident.acknowledged',
		'incident.updated',
		'incident.resolved',
		'monitor.status-changed'
	]),
	text: z.string()
});
export type Activity = z.infer<typeof ActivitySchema>;

export const PingSchema = z.object({ sentAt: z.number() });
export type PingData = z.infer<typeof PingSchema>;

/**
 * The page's definition with a schema added. The schema's output must be the definition's own data
 * type, so the two modules cannot drift apart.
 */
function validated<Data>(
	definition: MessageDefinition<Data>,
	schema: StandardSchema<unknown, Data>
): MessageDefinition<Data> {
	return ClientMessage.define(definition.name, schema);
}

/**
 * The dashboard's messages as the server handles and publishes them: the definitions of
 * messages.ts, each with its schema.
 *
 * @example
 * ```ts
 * await sockets.to(accountRoom(account)).emit(Validated.IncidentChanged, incident);
 * ```
 */
export const Validated = {
	IncidentChanged: validated(IncidentChanged, IncidentSchema),
	IncidentArchived: validated(IncidentArchived, ArchivedSchema),
	MonitorStatusChanged: validated(MonitorStatusChanged, MonitorSchema),
	MonitorChecked: validated(MonitorChecked, MonitorCheckSchema),
	ActivityLogged: validated(ActivityLogged, ActivitySchema),
	SnapshotRequested: validated(SnapshotRequested, z.object({})),
	Ping: validated(Ping, PingSchema)
};
