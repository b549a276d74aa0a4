import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where every hardening test appends its row; `npm run soak` prints them as one table. */
export const ATTACK_SUMMARY_FILE = fileURLToPath(
	new URL('../../../test-results/attacks.jsonl', import.meta.url)
);

/** One attack (or fault) as the hardening suite measured it. */
export interface AttackRow {
	/** What was done, e.g. `heartbeat flood ("2")`. */
	readonly attack: string;
	/** How many inputs it sent (frames, connections, restarts…). */
	readonly inputs: number;
	/** Whether the server process was alive and answering at the end. */
	readonly survived: boolean;
	/** The server's resident set size before and after, in MB. */
	readonly rssBeforeMb: number;
	readonly rssAfterMb: number;
	/** Numbered messages the well-behaved client did not receive. */
	readonly lost: number;
	/** The longest event-loop stall seen in the server process while the attack ran, in ms. */
	readonly longestStallMs: number;
}

/**
 * Records one row for the soak summary (test-results/attacks.jsonl, one JSON object per line).
 *
 * @example
 * ```ts
 * recordAttack({ attack: 'binary flood', inputs: 5_000, survived: true, rssBeforeMb: 80, rssAfterMb: 82, lost: 0, longestStallMs: 12 });
 * ```
 */
export function recordAttack(row: AttackRow): void {
	mkdirSync(dirname(ATTACK_SUMMARY_FILE), { recursive: true });
	appendFileSync(ATTACK_SUMMARY_FILE, JSON.stringify(row) + '\n');
}
