import { isIPv6 } from 'node:net';

/**
 * Who a client is, for counting: its address, or for IPv6 its /64 network. One IPv6 host commonly
 * has a whole /64 to itself, so its single addresses would give it billions of quotas.
 *
 * @example
 * ```ts
 * clientKey('203.0.113.7'); // '203.0.113.7'
 * clientKey('::ffff:203.0.113.7'); // '203.0.113.7'
 * clientKey('2001:db8:1:2:aaaa::1'); // '2001:db8:1:2::/64'
 * ```
 */
export function clientKey(address: string): string {
	const mappedV4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
	if (mappedV4) return mappedV4[1]!;
	if (!isIPv6(address)) return address;
	return `${expandIPv6(address).slice(0, 4).join(':')}::/64`;
}

/** The eight groups of an IPv6 address, without leading zeros: `::` filled in. */
function expandIPv6(address: string): string[] {
	const [head = '', tail] = address.toLowerCase().split('::');
	const groups = (part: string) => (part ? part.split(':') : []);
	const missing = tail === undefined ? [] : Array(8 - groups(head).length - groups(tail).length);
	return [...groups(head), ...missing.fill('0'), ...groups(tail ?? '')].map((group) =>
		(Number.parseInt(group, 16) || 0).toString(16)
	);
}

/** How many clients the quota remembers at most: a flood of addresses must not grow it forever. */
const CLIENTS_REMEMBERED = 10_000;

/**
 * At most `perClient` new teams per client (`clientKey` of its address) in any `window` ms: one
 * client can no longer take every place the demo has. What it remembers is bounded: times older
 * than the window are dropped, and beyond `CLIENTS_REMEMBERED` clients the longest quiet goes.
 *
 * @example
 * ```ts
 * const quota = new NewTeamQuota(5, 600_000);
 * if (quota.wait(address) == 0) quota.record(address);
 * ```
 */
export class NewTeamQuota {
	readonly #perClient: number;
	readonly #window: number;
	readonly #now: () => number;
	/** Per client, when it created its recent teams, oldest first; the least recently active first. */
	readonly #created = new Map<string, number[]>();

	constructor(perClient: number, window: number, now: () => number = Date.now) {
		this.#perClient = perClient;
		this.#window = window;
		this.#now = now;
	}

	/** Milliseconds until the client at `address` may create a team: 0 when it may now. */
	wait(address: string): number {
		const recent = this.#recent(clientKey(address));
		if (recent.length < this.#perClient) return 0;
		return recent[recent.length - this.#perClient]! + this.#window - this.#now();
	}

	/** Counts one new team against the client at `address`. */
	record(address: string): void {
		const key = clientKey(address);
		const recent = [...this.#recent(key), this.#now()].slice(-this.#perClient);
		this.#created.delete(key);
		this.#created.set(key, recent);
		if (this.#created.size > CLIENTS_REMEMBERED)
			this.#created.delete(this.#created.keys().next().value!);
	}

	/** The client's creation times still inside the window. */
	#recent(key: string): number[] {
		const since = this.#now() - this.#window;
		const recent = (this.#created.get(key) ?? []).filter((at) => at > since);
		if (!recent.length) this.#created.delete(key);
		return recent;
	}
}

/**
 * The client address of a request, by adapter-node's rules, so that a socket counts against the
 * same quota as its page's forms (`event.getClientAddress()`): the connection's own address, or
 * behind a proxy the header ADDRESS_HEADER names; for `X-Forwarded-For`, the address XFF_DEPTH
 * entries from its end (the one your outermost trusted proxy saw). `undefined` when the header is
 * configured but missing or too short.
 *
 * @example
 * ```ts
 * requestAddress(connection.req, process.env); // '203.0.113.7'
 * ```
 */
export function requestAddress(
	request: {
		headers: Record<string, string | string[] | undefined>;
		socket: { remoteAddress?: string };
	},
	env: Record<string, string | undefined>
): string | undefined {
	const header = env.ADDRESS_HEADER?.toLowerCase();
	if (!header) return request.socket.remoteAddress;
	const value = request.headers[header];
	const text = Array.isArray(value) ? value.join(',') : value;
	if (!text) return undefined;
	if (header != 'x-forwarded-for') return text.trim();
	const addresses = text.split(',');
	const depth = Number.parseInt(env.XFF_DEPTH ?? '1', 10);
	return depth >= 1 && depth <= addresses.length
		? addresses[addresses.length - depth]!.trim()
		: undefined;
}

/** Whom a request counts against when its address cannot be told: all such requests together. */
export const UNKNOWN_CLIENT = 'unknown';

/**
 * What a person is told when their address created its share of new teams for now.
 *
 * @example
 * ```ts
 * newTeamRefusal(90_000); // 'Too many new teams from your address: … again in 2 minutes.'
 * ```
 */
export function newTeamRefusal(wait: number): string {
	const minutes = Math.max(1, Math.ceil(wait / 60_000));
	return (
		'Too many new teams from your address: sign in to one you already opened, or start another ' +
		`in ${minutes} ${minutes == 1 ? 'minute' : 'minutes'}.`
	);
}
