import type { BenchServer } from './servers/bench-server.js';
import { startRawWs } from './servers/raw-ws.js';
import { startRunesocketMemory } from './servers/runesocket-memory.js';
import { startSocketIo } from './servers/socket-io.js';

/**
 * How a load client connects to and joins a room on a contender.
 *
 * @example
 * const protocol: ClientProtocol = 'runesocket'; // /ws, then room.join
 */
export type ClientProtocol = 'raw-ws' | 'socket.io' | 'runesocket';

/**
 * A server under test: its name in the tables, how to start it and how its clients speak.
 *
 * @example
 * const contender: Contender = { name: 'ws', start: () => startRawWs({ corked: false }), protocol: 'raw-ws' };
 */
export interface Contender {
	name: string;
	start(): Promise<BenchServer>;
	protocol: ClientProtocol;
}

/**
 * The contenders, in the order each round runs them; the first is the baseline of the ratios.
 *
 * @example
 * const contender = contenders.find((candidate) => candidate.name == 'socket.io 4.8');
 */
export const contenders: readonly Contender[] = [
	{ name: 'ws', start: () => startRawWs({ corked: false }), protocol: 'raw-ws' },
	{ name: 'ws corked', start: () => startRawWs({ corked: true }), protocol: 'raw-ws' },
	{ name: 'socket.io', start: startSocketIo, protocol: 'socket.io' },
	{ name: 'runesocket memory', start: startRunesocketMemory, protocol: 'runesocket' }
];

/**
 * The contender of a name, or an error naming the known ones.
 *
 * @example
 * const { start } = contenderNamed('ws corked');
 */
export function contenderNamed(name: string): Contender {
	const found = contenders.find((contender) => contender.name == name);
	if (!found) {
		const known = contenders.map((contender) => contender.name).join(', ');
		throw new Error(`No contender "${name}" (known: ${known})`);
	}
	return found;
}
