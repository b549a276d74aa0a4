import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as compat from '../../../src/lib/compat/index.js';
import { exportedNames } from '../../kit/entry-names.js';

const RUNTIME = ['createWebSocket', 'useWebSocket'];
const TYPES = [
	'ApiClientConfig',
	'CloseInfo',
	'UseWebSocketOptions',
	'UseWebSocketReturn',
	'WebSocketClient',
	'WebSocketConfig'
];

describe('the compat entry', () => {
	it("exports seed 000's two handles", () => {
		expect(Object.keys(compat).sort()).toEqual(RUNTIME);
	});

	it('exports those handles and their types, nothing more', () => {
		const entry = fileURLToPath(new URL('../../../src/lib/compat/index.ts', import.meta.url));
		expect(exportedNames(entry)).toEqual([...RUNTIME, ...TYPES].sort());
	}, 30_000);
});
