import type { EngineCommand } from '../engine/engine.js';
import { isRecord } from '../protocol/envelope.js';
import { safeJsonParse } from '../protocol/safe-json.js';

/**
 * A command as it travels on the control channel: `{"from":<process id>,"command":<command>}`.
 * `from` lets the sending process skip its own command, which it ran already when it sent it.
 */
export interface ControlMessage {
	readonly from: string;
	readonly command: EngineCommand;
}

/** The control channel's text of `command`, sent by process `from`. */
export function controlMessage(from: string, command: EngineCommand): string {
	return JSON.stringify({ from, command });
}

/** The command a control channel's text carries; throws an Error saying what is wrong with it. */
export function parseControlMessage(text: string): ControlMessage {
	const parsed = safeJsonParse(text);
	if (!isRecord(parsed) || typeof parsed.from != 'string' || !isRecord(parsed.command)) {
		throw new Error(`runesocket/redis: unreadable control message ${text.slice(0, 200)}`);
	}
	return { from: parsed.from, command: checkCommand(parsed.command, text) };
}

function checkCommand(command: Record<string, unknown>, text: string): EngineCommand {
	const { type, userId, code, reason } = command;
	if (type == 'reauthorize-user' && typeof userId == 'string') {
		return { type: 'reauthorize-user', userId };
	}
	if (
		type == 'disconnect-user' &&
		typeof userId == 'string' &&
		typeof code == 'number' &&
		typeof reason == 'string'
	) {
		return { type: 'disconnect-user', userId, code, reason };
	}
	throw new Error(`runesocket/redis: unknown control command ${text.slice(0, 200)}`);
}
