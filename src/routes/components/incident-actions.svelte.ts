import { SocketError, type MessageDefinition } from 'runesocket';
import type { Collection, LiveSocket } from 'runesocket/svelte';
import type { NewIncident } from '$demo/incident-rules';
import {
	AcknowledgeIncident,
	OpenIncident,
	ResolveIncident,
	UpdateIncident,
	type Incident,
	type IncidentUpdateData,
	type OpenIncidentData,
	type TimelineEntry
} from '$demo/messages';

/** What is said of an action whose request never got an answer (offline past its deadline). */
export const NOT_SENT = 'Not sent: the server cannot be reached. Try again in a moment.';

/** Who acts: the page's signed-in user. */
export interface Actor {
	name: string;
	account: string;
}

/** What an incident looks like with a change the server has not confirmed yet. */
type Change = (current: Incident | undefined) => Incident | null;

/** How an action shows at once: on which incident, with what change, and its name in a refusal. */
export interface IncidentChange {
	uuid: string;
	verb: string;
	change: Change;
}

/** Whether an incident's pending change is on its way (`sending`) or waits for a connection. */
export type PendingState = 'sending' | 'queued';

/** `incident` moved to `status`, with `entry` at the end of its timeline. */
const moved = (incident: Incident, status: Incident['status'], entry: TimelineEntry): Incident => ({
	...incident,
	status,
	timeline: [...incident.timeline, entry]
});

/**
 * How the request `name` with `data` shows at once, made by `by` at `at`; `undefined` for a request
 * that is not an incident action. Each change is applied again on every newer server value of its
 * incident until the server answers, so each leaves alone an incident that already shows it: an
 * acknowledgement or a resolution of one that is no longer open, an update the server sent back
 * already (one more of its text than when the change began).
 *
 * @example
 * ```ts
 * const { change } = changeOf('incident.acknowledge', { uuid }, ada, Date.now())!;
 * change(openIncident); // acknowledged by Ada, one more timeline entry
 * change(acknowledgedIncident); // the same incident: nothing to add
 * ```
 */
export function changeOf(
	name: string,
	data: unknown,
	by: Actor,
	at: number
): IncidentChange | undefined {
	const { uuid, text } = (data ?? {}) as Partial<IncidentUpdateData>;
	if (typeof uuid != 'string') return undefined;
	const entry = (kind: TimelineEntry['kind']): TimelineEntry => ({ kind, at, by: by.name });
	if (name == OpenIncident.name) {
		const { title, severity, project } = data as OpenIncidentData;
		return {
			uuid,
			verb: 'Open',
			change: (current) =>
				current ?? {
					uuid,
					account: by.account,
					project,
					title,
					severity: severity as Incident['severity'],
					status: 'open',
					createdAt: at,
					createdBy: by.name,
					timeline: [entry('opened')]
				}
		};
	}
	if (name == AcknowledgeIncident.name)
		return {
			uuid,
			verb: 'Acknowledge',
			change: (current) =>
				current?.status == 'open'
					? moved(current, 'acknowledged', entry('acknowledged'))
					: (current ?? null)
		};
	if (name == ResolveIncident.name)
		return {
			uuid,
			verb: 'Resolve',
			change: (current) =>
				current && current.status != 'resolved'
					? moved(current, 'resolved', entry('resolved'))
					: (current ?? null)
		};
	if (name == UpdateIncident.name && typeof text == 'string') {
		const mine = (incident: Incident) =>
			incident.timeline.filter(
				(line) => line.kind == 'update' && line.text == text && line.by == by.name
			).length;
		let before: number | undefined;
		return {
			uuid,
			verb: 'Update',
			change: (current) => {
				if (!current) return null;
				before ??= mine(current);
				return mine(current) > before
					? current
					: moved(current, current.status, { ...entry('update'), text });
			}
		};
	}
	return undefined;
}

/**
 * A fresh incident id, a version 4 UUID: `crypto.randomUUID` exists only on secure origins, and the
 * demo is also served on plain http (a laptop on the LAN).
 */
function newIncidentId(): string {
	const bytes = crypto.getRandomValues(new Uint8Array(16));
	bytes[6] = (bytes[6]! & 0x0f) | 0x40;
	bytes[8] = (bytes[8]! & 0x3f) | 0x80;
	const hex = Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
	return hex.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
}

/**
 * The dashboard's incident actions as the page sends them with JavaScript: through the socket's
 * outbox (sent exactly once, kept while offline and across a reload) and shown at once on the
 * incidents collection, pending until the server answers. A refusal rolls the change back and says
 * why in `problem`.
 *
 * @example
 * ```ts
 * const actions = new IncidentActions(socket, incidents, data.user);
 * onMount(() => actions.restore());
 * actions.resolve(incident.uuid);
 * ```
 */
export class IncidentActions {
	/** Why the last action that failed did not happen, in words; '' again as the next one starts. */
	problem = $state('');
	readonly #socket: LiveSocket;
	readonly #incidents: Collection<Incident, string>;
	readonly #actor: Actor;

	constructor(socket: LiveSocket, incidents: Collection<Incident, string>, actor: Actor) {
		this.#socket = socket;
		this.#incidents = incidents;
		this.#actor = actor;
	}

	open(incident: NewIncident): void {
		this.#send(OpenIncident, { uuid: newIncidentId(), ...incident });
	}

	acknowledge(uuid: string): void {
		this.#send(AcknowledgeIncident, { uuid });
	}

	update(uuid: string, text: string): void {
		this.#send(UpdateIncident, { uuid, text });
	}

	resolve(uuid: string): void {
		this.#send(ResolveIncident, { uuid });
	}

	/**
	 * Shows again what the outbox kept from before a reload (its entries are sent once connected):
	 * once the page is hydrated, so the server's first paint and the hydrated page match.
	 */
	restore(): void {
		for (const entry of this.#socket.outbox.entries)
			if (entry.kind == 'request')
				this.#show(entry.name, entry.data, entry.settled, entry.createdAt);
	}

	/** Whether the incident `uuid` has a change on its way or waiting to go, or neither. */
	pending(uuid: string): PendingState | undefined {
		if (!this.#incidents.pending.has(uuid)) return undefined;
		return this.#socket.isConnected ? 'sending' : 'queued';
	}

	/** Says why an action did not happen (a check of the page's own, before anything is sent). */
	refuse(verb: string, title: string, reason: string): void {
		this.problem = `${verb} “${title}”: ${reason}`;
	}

	#send<Data>(definition: MessageDefinition<Data>, data: Data): void {
		this.problem = '';
		this.#show(definition.name, data, this.#socket.outbox.request(definition, data), Date.now());
	}

	#show(name: string, data: unknown, action: Promise<unknown>, at: number): void {
		const shown = changeOf(name, data, this.#actor, at);
		if (!shown) return;
		const { uuid, verb, change } = shown;
		const title = this.#incidents.current.get(uuid)?.title ?? (data as NewIncident).title;
		this.#incidents.optimistic(uuid, change, action).catch((error: unknown) => {
			const refused = error instanceof SocketError && error.kind == 'server';
			this.refuse(verb, title, refused ? error.message : NOT_SENT);
		});
	}
}
