import type { StandardSchema } from '../../../src/lib/index.js';
import type { ServerPeer } from '../servers/ws-server.js';

/** What the conflation tests send: a value, and the key it was sent under (none for unkeyed). */
export interface Reading {
	readonly key?: string;
	readonly v: number | string;
}

/**
 * A schema of `Reading`s that records every value it is asked to validate, so a test can tell a
 * skipped message (never validated) from one validated and then dropped. A string `v` is invalid.
 * Readings whose `v` is in `slow` are answered only once `release()` is called; `answered()`
 * resolves once those answers have been handed on.
 */
export function countedSchema(slow: ReadonlySet<number> = new Set()): {
	schema: StandardSchema<unknown, Reading>;
	validated: unknown[];
	release: () => void;
	answered: () => Promise<void>;
} {
	const validated: unknown[] = [];
	const answers: Promise<unknown>[] = [];
	let release = () => {};
	const gate = new Promise<void>((resolve) => (release = resolve));
	const judge = (value: unknown) =>
		typeof (value as Reading).v == 'number'
			? { value: value as Reading }
			: { issues: [{ message: 'v must be a number' }] };
	const schema: StandardSchema<unknown, Reading> = {
		'~standard': {
			version: 1,
			vendor: 'test',
			validate: (value) => {
				validated.push(value);
				if (!slow.has((value as Reading).v as number)) return judge(value);
				const answer = gate.then(() => judge(value));
				answers.push(answer);
				return answer;
			}
		}
	};
	// A macrotask after the answers: every microtask chained on them has run.
	const answered = async () => {
		await Promise.all(answers);
		await new Promise((resolve) => setTimeout(resolve, 0));
	};
	return { schema, validated, release, answered };
}

/**
 * Sends room deliveries to the client as a runesocket server does, `[name, data, room, offset,
 * epoch, key]` (no sixth item when unkeyed), with each room's offsets counting up from 1.
 */
export class RoomDeliveries {
	#peer: ServerPeer;
	#offsets = new Map<string, number>();
	#epoch: string;
	/** How many were sent. */
	sent = 0;

	constructor(peer: ServerPeer, epoch = 'e1') {
		this.#peer = peer;
		this.#epoch = epoch;
	}

	/** Sends `reading` as a `name` message of `room`, keyed by `reading.key` when it has one. */
	send(name: string, room: string, reading: Reading): void {
		const offset = (this.#offsets.get(room) ?? 0) + 1;
		this.#offsets.set(room, offset);
		const delivery: unknown[] = [name, reading, room, offset, this.#epoch];
		if (reading.key !== undefined) delivery.push(reading.key);
		this.#peer.send(delivery);
		this.sent++;
	}

	/** Continues `room` from `offset` in `epoch`, as after an unrecoverable rejoin. */
	restart(room: string, offset: number, epoch: string): void {
		this.#offsets.set(room, offset);
		this.#epoch = epoch;
	}
}
