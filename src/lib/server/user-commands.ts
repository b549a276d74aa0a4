import type { EngineCommand } from '../engine/engine.js';
import { SESSION_REVOKED } from '../protocol/close-codes.js';
import { isSendableCloseCode } from './connection.js';
import type { ServerMetrics } from './metrics/metrics.js';
import type { Memberships } from './rooms/memberships.js';
import type { Route } from './route.js';
import { recheckRooms } from './session/room-recheck.js';
import type { UserLimit } from './session/user-limit.js';

/** Options of `server.disconnectUser`. */
export interface DisconnectUserOptions {
	/** The close code (default 4004, `SessionRevoked`: the client stops reconnecting). */
	readonly code?: number;
	/** The close reason (default `Session revoked`; cut to the 123 bytes a close frame carries). */
	readonly reason?: string;
}

/** What a user command reaches on this process. */
export interface UserCommandTargets {
	readonly routes: readonly Route[];
	readonly memberships: Memberships;
	readonly userLimit: UserLimit;
	readonly metrics: ServerMetrics;
}

function checkUserId(userId: unknown, method: string): string {
	if (typeof userId == 'string') return userId;
	throw new TypeError(`${method}: userId must be a string, not ${typeof userId}`);
}

/** The command of `disconnectUser`; throws a TypeError naming the argument that is wrong. */
export function disconnectCommand(userId: unknown, options: DisconnectUserOptions): EngineCommand {
	const { code = SESSION_REVOKED, reason = 'Session revoked' } = options ?? {};
	if (!isSendableCloseCode(code)) {
		throw new TypeError(
			`disconnectUser: code must be a close code a server may send (1000–1014 but 1004–1006, or 3000–4999), not ${String(code)}`
		);
	}
	if (typeof reason != 'string') {
		throw new TypeError(`disconnectUser: reason must be a string, not ${typeof reason}`);
	}
	return { type: 'disconnect-user', userId: checkUserId(userId, 'disconnectUser'), code, reason };
}

/** The command of `reauthorizeUser`; throws a TypeError when `userId` is not a string. */
export function reauthorizeCommand(userId: unknown): EngineCommand {
	return { type: 'reauthorize-user', userId: checkUserId(userId, 'reauthorizeUser') };
}

/**
 * Runs a command on this process's connections of its user, on every route: closes them (those
 * still waiting for their slot too), or checks their rooms again with `authorizeJoin`.
 */
export function runUserCommand(command: EngineCommand, targets: UserCommandTargets): void {
	const { userId } = command;
	for (const route of targets.routes) {
		for (const connection of [...route.connections]) {
			if (connection.userId !== userId || !connection.isOpen) continue;
			if (command.type == 'reauthorize-user') {
				recheckRooms(connection, route, targets.memberships).catch((error: unknown) =>
					connection.report(error)
				);
				continue;
			}
			targets.metrics.userConnectionsRevoked++;
			connection.close(command.code, command.reason);
		}
	}
	if (command.type != 'disconnect-user') return;
	for (const session of [...targets.userLimit.claiming(userId)]) {
		targets.metrics.userConnectionsRevoked++;
		session.close(command.code, command.reason);
	}
}
