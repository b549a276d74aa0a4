import type { AuthResult, RouteOptions } from '../../src/lib/server/index.js';
import { defineRoute } from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import type { RunningServer } from './servers/socket-server.js';

// The users, tokens and routes of the authentication tests: what an app's check would do.

export interface User {
	name: string;
}

export const USERS = new Map<string, User>([
	['alice-token', { name: 'alice' }],
	['bob-token', { name: 'bob' }]
]);

/** What an app's check does: a known token is a user, anything else a plain refusal. */
export function userFor(token: string | undefined): AuthResult<User> {
	const user = token === undefined ? undefined : USERS.get(token);
	return user ? { success: true, data: user } : { success: false, reason: 'Invalid token' };
}

/** The `auth` frame a runesocket client sends first. */
export function authFrame(token: string): string {
	return JSON.stringify({ name: 'auth', data: { token } });
}

export const BEARER_ALICE = { Authorization: 'Bearer alice-token' };

export const Echo = ClientMessage.define<{ text: string }>('echo');

/** Echo requests back with the name of the user that sent them. */
export function answerEchoes(server: RunningServer): void {
	server.sockets.on(Echo, (connection, data, reply) => {
		reply({ text: data.text, from: (connection.authData as User).name });
	});
}

/** A route authenticating by the first frame, checking tokens with `userFor` unless told otherwise. */
export function firstMessageRoute(extra: Partial<RouteOptions<User>> = {}): RouteOptions<unknown> {
	return defineRoute<User>({
		path: '/ws',
		firstMessageAuth: { verify: (token) => userFor(token) },
		connectedData: (connection) => ({ user: connection.authData.name }),
		...extra
	});
}
