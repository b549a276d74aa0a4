import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as runes from '../../../src/lib/svelte/index.js';
import { exportedNames } from '../../kit/entry-names.js';

const RUNTIME = ['LiveSocket', 'getSocket', 'setSocket'];
const TYPES = ['Collection', 'Latest', 'LiveSocketOptions', 'Presence', 'Stream'];

describe('the svelte entry', () => {
	it('exports the values a component needs', () => {
		expect(Object.keys(runes).sort()).toEqual(RUNTIME);
	});

	it('exports those values and the feed types a component names, nothing more', () => {
		const entry = fileURLToPath(new URL('../../../src/lib/svelte/index.ts', import.meta.url));
		expect(exportedNames(entry)).toEqual([...RUNTIME, ...TYPES].sort());
	}, 30_000);
});
