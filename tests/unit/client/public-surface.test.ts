import { describe, expect, it } from 'vitest';
import * as root from '../../../src/lib/index.js';

describe('the root entry', () => {
	it('exports the values an app needs and no test hooks', () => {
		expect(Object.keys(root).sort()).toEqual([
			'ClientMessage',
			'CloseCode',
			'Connected',
			'Disconnected',
			'ErrorCode',
			'ReconnectAttempt',
			'ReconnectFailed',
			'SocketClient',
			'SocketError',
			'Unrecoverable',
			'createWebSocket',
			'envelopeDialect',
			'eventKeyedDialect',
			'safeJsonParse',
			'typeKeyedDialect',
			'watchPresence'
		]);
	});
});
