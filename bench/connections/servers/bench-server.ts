/**
 * A contender's server, running in the server process: its port, how many connections it holds,
 * and how to stop it.
 *
 * @example
 * const server: ConnectionServer = await startRawWs();
 * console.log(server.port, server.openConnections());
 */
export interface ConnectionServer {
	port: number;
	version: string;
	openConnections(): number;
	close(): Promise<void>;
}

/** The user a token names, kept by each contender on its connection as its auth data. */
export interface BenchUser {
	id: string;
}

/**
 * What every contender's authentication does: `token-<n>` is user `user-<n>`, anything else is
 * refused. The same cheap check everywhere, so the figures compare the servers, not the checks.
 *
 * @example
 * userOfToken('token-7'); // { id: 'user-7' }
 */
export function userOfToken(token: unknown): BenchUser | undefined {
	if (typeof token != 'string' || !token.startsWith('token-')) return undefined;
	return { id: `user-${token.slice('token-'.length)}` };
}
