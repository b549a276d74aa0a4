// What the dashboard's server checks data against, where it crosses a trust boundary: what a page
// sends (before a handler runs), what a form posts, and what the server publishes (runesocket's
// publish validates against the definition's schema before anything goes out). Server code only:
// the page imports messages.ts, whose definitions carry the same names and types without a schema,
// so zod never ships to the browser (about 25 KB of the route's JS gzip when it did).
import { ClientMessage, type MessageDefinition, type StandardSchema } from 'runesocket';
import { z } from 'zod';
import {
	AcknowledgeIncident,
	ActivityLogged,
	IncidentArchived,
	IncidentChanged,
	MonitorChecked,
	MonitorStatusChanged,
	OpenIncident,
	Ping,
	ResolveIncident,
	SnapshotRequested,
	UpdateIncident
} from './messages.js';
import {
	ActivitySchema,
	ArchivedSchema,
	IncidentSchema,
	IncidentTargetSchema,
	IncidentUpdateSchema,
	MonitorCheckSchema,
	MonitorSchema,
	OpenIncidentSchema,
	PingSchema
} from './shapes.js';

/**
 * The page's definition with a schema added, its conflation key kept. The schema's output must be
 * the definition's own data type, so the two modules cannot drift apart.
 */
function validated<Data>(
	definition: MessageDefinition<Data>,
	schema: StandardSchema<unknown, Data>
): MessageDefinition<Data> {
	const conflationKey = definition.conflationKey?.bind(definition);
	return ClientMessage.define(definition.name, schema, conflationKey ? { conflationKey } : {});
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
	Ping: validated(Ping, PingSchema),
	OpenIncident: validated(OpenIncident, OpenIncidentSchema),
	AcknowledgeIncident: validated(AcknowledgeIncident, IncidentTargetSchema),
	UpdateIncident: validated(UpdateIncident, IncidentUpdateSchema),
	ResolveIncident: validated(ResolveIncident, IncidentTargetSchema)
};
