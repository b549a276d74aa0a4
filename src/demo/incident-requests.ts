// The incident actions a page sends on its socket: open, acknowledge, update and resolve, with the
// same rules and the same words as the form actions of +page.server.ts (both read
// incident-rules.ts). A page sends each with a request key through its outbox, and the server
// answers a repeat of a key with the first answer without running these again: a request sent
// twice (a reconnect, a reload) is applied once. An incident to open carries the id the page made,
// which the store refuses once taken, so not even a repeat the server no longer remembers opens two.
import type { Connection, Reply, SocketServer } from 'runesocket/server';
import type { Dashboard } from './dashboard.js';
import type { Incident } from './messages.js';
import { REFUSED } from './messages.js';
import { checkNewIncident, checkUpdate, REFUSALS, type IncidentRefusal } from './incident-rules.js';
import { Validated } from './schemas.js';
import type { DemoUser } from './session.js';
import { requestAddress, UNKNOWN_CLIENT } from './team-quota.js';

/** The signed-in user of a connection of the demo's route (which authenticates every one). */
const userOf = (connection: Connection<unknown>) => connection.authData as DemoUser;

/** Answers a refusal: code `REFUSED`, and the words the person is shown. */
function refuse(reply: Reply, message: string): void {
	reply.error(REFUSED, message);
}

/** Answers what the dashboard made of a change: empty (every page gets the incident), or why not. */
function answer(reply: Reply, result: Incident | IncidentRefusal): void {
	if (typeof result == 'object') reply();
	else refuse(reply, REFUSALS[result]);
}

/**
 * Answers the page's incident requests on `sockets` for `dashboard`: a refusal is an error of code
 * `REFUSED` whose message says why in words; what was done reaches every page of the account as
 * `IncidentChanged`. Opening counts as using the account, which it creates again if it expired,
 * counted against the client's address (read as `env` says: ADDRESS_HEADER, XFF_DEPTH), as a
 * form's does. Returns what stops answering them.
 *
 * @example
 * ```ts
 * answerIncidentRequests(sockets, dashboard, process.env);
 * // page: await client.request(ResolveIncident, { uuid }, { key });
 * ```
 */
export function answerIncidentRequests(
	sockets: SocketServer,
	dashboard: Dashboard,
	env: Record<string, string | undefined>
): () => void {
	const stops = [
		sockets.on(Validated.OpenIncident, async (connection, { uuid, ...fields }, reply) => {
			const user = userOf(connection);
			const from = requestAddress(connection.req, env) ?? UNKNOWN_CLIENT;
			const refused = await dashboard.admission(user.account, from);
			if (refused) return refuse(reply, refused.message);
			const checked = checkNewIncident(fields);
			if (checked.refusal !== undefined) return refuse(reply, checked.refusal);
			answer(reply, await dashboard.openIncident(user, checked.value, uuid));
		}),
		sockets.on(Validated.AcknowledgeIncident, async (connection, { uuid }, reply) =>
			answer(reply, await dashboard.acknowledgeIncident(userOf(connection), uuid))
		),
		sockets.on(Validated.UpdateIncident, async (connection, { uuid, text }, reply) => {
			const checked = checkUpdate(text);
			if (checked.refusal !== undefined) return refuse(reply, checked.refusal);
			answer(reply, await dashboard.updateIncident(userOf(connection), uuid, checked.value));
		}),
		sockets.on(Validated.ResolveIncident, async (connection, { uuid }, reply) =>
			answer(reply, await dashboard.resolveIncident(userOf(connection), uuid))
		)
	];
	return () => {
		for (const stop of stops) stop();
	};
}
