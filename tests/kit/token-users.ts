import type { Connection } from '../../src/lib/server/index.js';
import type { FirstMessageAuth } from '../../src/lib/server/options.js';

/** A user of the presence tests: signed in by the token `id:name`. */
export interface TokenUser {
	id: string;
	name: string;
}

/** First-message auth by `id:name` tokens: every token passes, naming its user. */
export const tokenUserAuth: FirstMessageAuth<TokenUser> = {
	verify: (token) => {
		const [id, name] = token.split(':');
		return { success: true, data: { id, name } };
	}
};

/** Presence as the token's user: its id, and its name as what others see. */
export function presentAs(connection: Connection<TokenUser>): {
	id: string;
	data: { name: string };
} {
	return { id: connection.authData.id, data: { name: connection.authData.name } };
}
