// What the dashboard's server checks data against, where it crosses a trust boundary: what a page
// sends (before a handler runs), what a form posts, and what the server publishes (runesocket's
// publish validates against the definition's schema before anything goes out). Server code only:
// the page imports messages.ts, whose definitions carry the same names and types without a schema,
// so zod never ships to the browser (about 25 KB of the route's JS gzip when it did).
import { ClientMessage, type MessageDefinition, type StandardSchema } from 'runesocket';
import { z } from 'zod';
import {
	ActivityLogged,
	IncidentCreated,
	IncidentResolved,
	MonitorStatusChanged,
	Ping,
	SnapshotRequested
} from './messages.js';

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

export const ResolutionSchema = z.object({
	uuid: z.string(),
	resolvedAt: z.number(),
	resolvedBy: z.string()
});
export type Resolution = z.infer<typeof ResolutionSchema>;

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
 * await sockets.to(accountRoom(account)).emit(Validated.IncidentCreated, incident);
 * ```
 */
export const Validated = {
	IncidentCreated: validated(IncidentCreated, IncidentSchema),
	IncidentResolved: validated(IncidentResolved, ResolutionSchema),
	MonitorStatusChanged: validated(MonitorStatusChanged, MonitorSchema),
	ActivityLogged: validated(ActivityLogged, ActivitySchema),
	SnapshotRequested: validated(SnapshotRequested, z.object({})),
	Ping: validated(Ping, PingSchema)
};
