import type { Incident } from '$demo/messages';
import { formatAge } from './time.svelte';

/** What the severity filter shows: every active incident, or those of one severity. */
export type SeverityChoice = 'all' | Incident['severity'];

/** The filter's choices, most urgent first. */
export const SEVERITY_CHOICES: readonly { value: SeverityChoice; label: string }[] = [
	{ value: 'all', label: 'All' },
	{ value: 'critical', label: 'Critical' },
	{ value: 'warning', label: 'Warning' },
	{ value: 'info', label: 'Info' }
];

/** How many incidents there are of each severity, and in all. */
export function countBySeverity(incidents: readonly Incident[]): Record<SeverityChoice, number> {
	const counts = { all: incidents.length, critical: 0, warning: 0, info: 0 };
	for (const incident of incidents) counts[incident.severity]++;
	return counts;
}

/** When an incident was resolved (or last changed): the time of its newest timeline entry. */
export function lastChangedAt(incident: Incident): number {
	return incident.timeline.at(-1)?.at ?? incident.createdAt;
}

/** Who has the incident, in a few words: "open", "acknowledged by Grace", "resolved by Ada". */
export function statusText(incident: Incident): string {
	if (incident.status == 'open') return 'open';
	const entry = incident.timeline.findLast((candidate) => candidate.kind == incident.status);
	return entry ? `${incident.status} by ${entry.by}` : incident.status;
}

/** "just now" or "5 min ago". */
export function ago(milliseconds: number): string {
	const age = formatAge(milliseconds);
	return age == 'just now' ? age : `${age} ago`;
}
