import type { RequestMode, ServerKind } from './messages.js';

/**
 * A contender of the requests suite: its name in the table, the server it runs on and how its
 * clients send requests.
 *
 * @example
 * const contender: Contender = { name: 'ws', server: 'ws', mode: 'raw-ws' };
 */
export interface Contender {
	name: string;
	server: ServerKind;
	mode: RequestMode;
}

/**
 * The contenders in the order each round runs them; `ws` is the baseline of the ratios.
 *
 * @example
 * for (const contender of requestContenders) console.log(contender.name);
 */
export const requestContenders: readonly Contender[] = [
	{ name: 'ws', server: 'ws', mode: 'raw-ws' },
	{ name: 'socket.io', server: 'socket.io', mode: 'socket.io' },
	{ name: 'runesocket no key', server: 'runesocket memory', mode: 'no key' },
	{ name: 'runesocket keyed (memory)', server: 'runesocket memory', mode: 'fresh keys' },
	{ name: 'runesocket keyed (redis)', server: 'runesocket redis', mode: 'fresh keys' },
	{ name: 'runesocket repeat of a kept key (redis)', server: 'runesocket redis', mode: 'repeat' }
];

/**
 * The contender of a name (or a part of one, e.g. `repeat`), or an error naming the known ones.
 *
 * @example
 * const { server } = requestContenderNamed('keyed (redis)');
 */
export function requestContenderNamed(name: string): Contender {
	const found =
		requestContenders.find((contender) => contender.name == name) ??
		requestContenders.find((contender) => contender.name.includes(name));
	if (!found) {
		const known = requestContenders.map((contender) => contender.name).join(', ');
		throw new Error(`No contender "${name}" (known: ${known})`);
	}
	return found;
}
