import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as vite from '../../../src/lib/vite/index.js';
import { exportedNames } from '../../kit/entry-names.js';

describe('the vite entry', () => {
	it('exports the plugin and its options, nothing more', () => {
		expect(Object.keys(vite)).toEqual(['runesocket']);
		const entry = fileURLToPath(new URL('../../../src/lib/vite/index.ts', import.meta.url));
		expect(exportedNames(entry)).toEqual(['RunesocketPluginOptions', 'runesocket']);
	}, 30_000);
});
