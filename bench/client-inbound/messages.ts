// What the inbound benchmark's orchestrator and its server process say over IPC, and the two
// payloads the server publishes: a small one (about 100 bytes of data) and a large one (about
// 2.3 KB: a list of monitors, so the parse and a schema have many keys to walk).

/** The payload sizes measured. */
export type PayloadSize = 'small' | 'large';

/** The name each payload size is published under. */
export const TICK: Record<PayloadSize, string> = { small: 'tick.small', large: 'tick.large' };

/**
 * One monitor of the large payload.
 *
 * @example
 * const monitor: MonitorRow = { uuid: 'm-1', name: 'Checkout', status: 'up', latency: 81, changedAt: 0 };
 */
export interface MonitorRow {
	uuid: string;
	name: string;
	status: 'up' | 'degraded' | 'down';
	latency: number;
	changedAt: number;
}

/**
 * The data of one published message: its place in the burst, and the payload's body.
 *
 * @example
 * const data: TickData = { seq: 0, t: Date.now(), pad: 'x' };
 */
export type TickData =
	{ seq: number; t: number; pad: string } | { seq: number; t: number; monitors: MonitorRow[] };

const SMALL_PADDING = 'x'.repeat(72);
const LARGE_MONITORS = 16;
const STATUSES = ['up', 'degraded', 'down'] as const;

function monitorRow(index: number): MonitorRow {
	return {
		uuid: `0d6f1c9e-4b7a-4f2e-9c1d-${String(index).padStart(12, '0')}`,
		name: `Monitor number ${index} of the account`,
		status: STATUSES[index % STATUSES.length],
		latency: 40 + ((index * 37) % 200),
		changedAt: 1_764_590_000_000 + index * 1_000
	};
}

const LARGE_ROWS = Array.from({ length: LARGE_MONITORS }, (_, index) => monitorRow(index));

/**
 * The data of message `seq` of a burst of `size` payloads.
 *
 * @example
 * JSON.stringify(tickData('small', 0)).length; // about 100
 */
export function tickData(size: PayloadSize, seq: number): TickData {
	const t = Date.now();
	return size == 'small' ? { seq, t, pad: SMALL_PADDING } : { seq, t, monitors: LARGE_ROWS };
}

/**
 * Orchestrator → server process.
 *
 * @example
 * server.send({ type: 'burst', room: 'bare', size: 'small', count: 4000 });
 */
export type ServerCommand =
	{ type: 'burst'; room: string; size: PayloadSize; count: number } | { type: 'exit' };

/**
 * Server process → orchestrator.
 *
 * @example
 * const { port } = await server.next('listening', 30_000);
 */
export type ServerReport =
	{ type: 'listening'; port: number } | { type: 'published' } | { type: 'failed'; error: string };
