// What a person may ask of an incident, and what they are told when they may not: one place for
// each rule and each refusal's words, read by the form actions (+page.server.ts), the socket
// handlers (incident-requests.ts) and the page, which checks what it can before it sends. Plain
// code, no zod and no Node: the page bundles it.
import { MAX_OPEN_INCIDENTS, MAX_TITLE_LENGTH, MAX_UPDATE_LENGTH } from './limits.js';
import { isProject } from './projects.js';
import { invisibleTextRefusal, visibleText } from './text.js';

/** How urgent an incident is, most urgent first. */
export const SEVERITIES = ['critical', 'warning', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/** What a user may ask for when opening an incident. */
export interface NewIncident {
	title: string;
	severity: Severity;
	project: string;
}

/** A person's input checked: what to act on, or what to tell them. */
export type Checked<T> = { value: T; refusal?: undefined } | { value?: undefined; refusal: string };

/**
 * The fields of a new incident as typed (a form's, a socket request's), checked: the title as it
 * will show (`visibleText`), or the first problem in words.
 *
 * @example
 * ```ts
 * checkNewIncident({ title: ' Disk full ', severity: 'warning', project: 'data' });
 * // { value: { title: 'Disk full', severity: 'warning', project: 'data' } }
 * checkNewIncident({ title: '   ', severity: 'warning', project: 'data' }).refusal;
 * // 'A title of 1 to 120 characters.'
 * ```
 */
export function checkNewIncident(fields: {
	title: string;
	severity: string;
	project: string;
}): Checked<NewIncident> {
	const title = visibleText(fields.title);
	const { severity, project } = fields;
	if (title === undefined) return { refusal: invisibleTextRefusal('title') };
	if (!title || title.length > MAX_TITLE_LENGTH)
		return { refusal: `A title of 1 to ${MAX_TITLE_LENGTH} characters.` };
	if (!isSeverity(severity)) return { refusal: 'Pick a severity.' };
	if (!isProject(project)) return { refusal: 'Pick a project.' };
	return { value: { title, severity, project } };
}

function isSeverity(value: string): value is Severity {
	return (SEVERITIES as readonly string[]).includes(value);
}

/**
 * An update's text as typed, checked: as it will show, or the problem in words.
 *
 * @example
 * ```ts
 * checkUpdate(' Rolled back '); // { value: 'Rolled back' }
 * checkUpdate('').refusal; // 'An update of 1 to 280 characters.'
 * ```
 */
export function checkUpdate(raw: string): Checked<string> {
	const text = visibleText(raw);
	if (text === undefined) return { refusal: invisibleTextRefusal('update') };
	if (!text || text.length > MAX_UPDATE_LENGTH)
		return { refusal: `An update of 1 to ${MAX_UPDATE_LENGTH} characters.` };
	return { value: text };
}

/**
 * Why the dashboard refused to open or change an incident: its state no longer allows it (someone
 * else was faster), the account has too many open, or the id of a new one is taken.
 */
export type IncidentRefusal =
	'not-found' | 'resolved' | 'acknowledged' | 'full' | 'too-many-open' | 'taken';

/**
 * What a person is told when the dashboard refused.
 *
 * @example
 * ```ts
 * REFUSALS.resolved; // 'That incident is already resolved.'
 * ```
 */
export const REFUSALS: Record<IncidentRefusal, string> = {
	'not-found': 'That incident is no longer on the dashboard.',
	resolved: 'That incident is already resolved.',
	acknowledged: 'Someone is already on that incident.',
	full: 'That timeline is full: resolve the incident, or open a new one.',
	'too-many-open': `${MAX_OPEN_INCIDENTS} incidents are open: resolve some before opening more.`,
	taken: 'An incident with that id exists already.'
};
