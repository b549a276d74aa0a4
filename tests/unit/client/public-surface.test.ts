import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as root from '../../../src/lib/index.js';
import { exportedNames } from '../../kit/entry-names.js';

const RUNTIME = [
	'ClientMessage',
	'CloseCode',
	'Connected',
	'Disconnected',
	'ErrorCode',
	'Outbox',
	'ReconnectAttempt',
	'ReconnectFailed',
	'SocketClient',
	'SocketError',
	'Unrecoverable',
	'eventKeyedDialect',
	'typeKeyedDialect',
	'watchPresence'
];

const TYPES = [
	'ConnectionState',
	'Dialect',
	'InboundMessage',
	'MessageData',
	'MessageDefinition',
	'OutboxOptions',
	'PresenceMembers',
	'SocketClientOptions',
	'StandardSchema',
	'StreamPosition'
];

describe('the root entry', () => {
	it('exports the values an app needs and no test hooks', () => {
		expect(Object.keys(root).sort()).toEqual(RUNTIME);
	});

	it('exports those values and the types an app names, nothing more', () => {
		const entry = fileURLToPath(new URL('../../../src/lib/index.ts', import.meta.url));
		expect(exportedNames(entry)).toEqual([...RUNTIME, ...TYPES].sort());
	}, 30_000);
});
