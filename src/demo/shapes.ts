// The shapes of the dashboard's data as zod schemas, and the types inferred from them. Server code
// only (it costs the page zod): the page takes the types through messages.ts.
import { z } from 'zod';
import { SEVERITIES } from './incident-rules.js';
import {
	CHECKS_KEPT,
	MAX_SPANS,
	MAX_TIMELINE,
	MAX_TITLE_LENGTH,
	MAX_UPDATE_LENGTH
} from './limits.js';

export const Severity = z.enum(SEVERITIES);
export const MonitorStatus = z.enum(['up', 'degraded', 'down']);

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
	title: z.string().min(1).max(MAX_TITLE_LENGTH),
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

/**
 * One probe of a monitor: when, its response time (null: it got no answer), and its number among
 * the monitor's checks (one more than the check before), so a page that never got some checks (a
 * conflated stream sends a reader that is behind only the newest) can tell where they are missing.
 */
export const CheckSchema = z.object({
	at: z.number(),
	ms: z.number().nonnegative().nullable(),
	seq: z.number().int().nonnegative()
});
export type Check = z.infer<typeof CheckSchema>;

/** A status from `at` until the next span's `at` (or now). */
export const SpanSchema = z.object({ at: z.number(), status: MonitorStatus });
export type Span = z.infer<typeof SpanSchema>;

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

// What a page asks of an incident over its socket. Only the shape is checked here: what the fields
// may hold is checked by the rules of incident-rules.ts, which say what is wrong in words.

/** Opens an incident of the id the page made (a UUID), so its own copy and the server's share one. */
export const OpenIncidentSchema = z.object({
	uuid: z.uuid(),
	title: z.string(),
	severity: z.string(),
	project: z.string()
});
export type OpenIncidentData = z.infer<typeof OpenIncidentSchema>;

/** Acknowledges or resolves the incident `uuid`. */
export const IncidentTargetSchema = z.object({ uuid: z.string() });
export type IncidentTarget = z.infer<typeof IncidentTargetSchema>;

/** Adds `text` to the timeline of the incident `uuid`. */
export const IncidentUpdateSchema = IncidentTargetSchema.extend({ text: z.string() });
export type IncidentUpdateData = z.infer<typeof IncidentUpdateSchema>;
