import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { exportedNames } from '../../kit/entry-names.js';

// Issue 18: a public face an app can hold in its head. Every entry but runesocket/compat (seed 000's
// façade, kept for code written against it) counts towards one budget, and every name is in the
// README's API tour, so nothing is exported that a reader of the README cannot find.
const ROOT = fileURLToPath(new URL('../../..', import.meta.url));
const ENTRIES = ['', 'svelte', 'server', 'redis', 'vite'];
const MOST_NAMES = 60;

const namesOf = (entry: string) =>
	exportedNames(`${ROOT}src/lib/${entry ? `${entry}/` : ''}index.ts`).map(
		(name) => `${entry ? `runesocket/${entry}` : 'runesocket'} ${name}`
	);

describe('the public face', () => {
	const names = ENTRIES.flatMap(namesOf);

	it(`is at most ${MOST_NAMES} names over the entries but compat`, () => {
		expect(names.length).toBeGreaterThan(40);
		expect(names.length).toBeLessThanOrEqual(MOST_NAMES);
	}, 60_000);

	it("has every name in README's API tour", async () => {
		const readme = await readFile(`${ROOT}README.md`, 'utf8');
		const tour = readme.slice(readme.indexOf('## API tour'), readme.indexOf('## Layout'));
		const missing = names.filter((entryAndName) => {
			const name = entryAndName.split(' ')[1];
			return !new RegExp(`\\b${name}\\b`).test(tour);
		});
		expect(missing).toEqual([]);
	}, 60_000);
});
