import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as server from '../../../src/lib/server/index.js';
import { exportedNames } from '../../kit/entry-names.js';

const RUNTIME = [
	'Connection',
	'EVERYONE',
	'MemoryEngine',
	'SocketServer',
	'createSocketServer',
	'defineRoute',
	'metricsRequestHandler',
	'presenceRoomOf',
	'shareSocketServer',
	'sharedSocketServer',
	'tokenFromCookie',
	'tokenFromHeader',
	'tokenFromQuery'
];
const TYPES = [
	'AuthResult',
	'Engine',
	'MessageHandler',
	'Reply',
	'RouteOptions',
	'SocketServerOptions'
];

describe('the server entry', () => {
	it('exports the values a server app calls', () => {
		expect(Object.keys(server).sort()).toEqual([...RUNTIME].sort());
	});

	it('exports those values and the types a server app names, nothing more', () => {
		const entry = fileURLToPath(new URL('../../../src/lib/server/index.ts', import.meta.url));
		expect(exportedNames(entry)).toEqual([...RUNTIME, ...TYPES].sort());
	}, 30_000);
});
