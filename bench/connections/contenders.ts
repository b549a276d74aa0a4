import type { ClientProtocol } from './messages.js';
import type { ConnectionServer } from './servers/bench-server.js';
import { startRawWs } from './servers/raw-ws.js';
import { startRunesocket } from './servers/runesocket.js';
import { startSocketIo } from './servers/socket-io.js';

/**
 * A server under test: its name in the tables, how to start it and how its clients speak.
 *
 * @example
 * const contender: Contender = { name: 'ws', start: startRawWs, protocol: 'raw-ws' };
 */
export interface Contender {
	name: string;
	start(): Promise<ConnectionServer>;
	protocol: ClientProtocol;
}

/**
 * The contenders in the order each round runs them; the first is the baseline of the ratios.
 *
 * @example
 * for (const contender of connectionContenders) console.log(contender.name);
 */
export const connectionContenders: readonly Contender[] = [
	{ name: 'ws', start: startRawWs, protocol: 'raw-ws' },
	{ name: 'socket.io', start: startSocketIo, protocol: 'socket.io' },
	{ name: 'runesocket memory', start: startRunesocket, protocol: 'runesocket' }
];

/**
 * The contender of a name, or an error naming the known ones.
 *
 * @example
 * const { start } = connectionContenderNamed('socket.io');
 */
export function connectionContenderNamed(name: string): Contender {
	const found = connectionContenders.find((contender) => contender.name == name);
	if (!found) {
		const known = connectionContenders.map((contender) => contender.name).join(', ');
		throw new Error(`No contender "${name}" (known: ${known})`);
	}
	return found;
}
