import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
	keySlot,
	presenceKeys,
	requestKeyNames,
	roomKeys,
	userSlotsKey
} from '../../../src/lib/redis/keys.js';
import { keptAnswer } from '../../../src/lib/redis/request-keys.js';

/** The slot ioredis sends a key to (the package ships no types). */
const calculateSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

/** Scopes an app could make of a route path and a user id an attacker picked. */
const scope = fc.oneof(
	fc.string({ unit: fc.constantFrom('}', '{', '%', ':', 'a', '\uD800', '\uDC00'), maxLength: 12 }),
	fc.string({ unit: 'binary', maxLength: 40 })
);

describe('request key names', () => {
	it('put every key of a scope in one slot under a short tag without braces, whatever the scope', () => {
		fc.assert(
			fc.property(scope, (scope) => {
				const names = Object.values(requestKeyNames('runesocket:', scope));
				const tag = /^runesocket:\{([A-Za-z0-9_-]{43})\}:request-[a-z]+$/.exec(names[0])?.[1];
				expect(tag, names[0]).toBeDefined();
				for (const name of names) {
					expect(name.startsWith(`runesocket:{${tag}}:request-`)).toBe(true);
					expect(keySlot(name)).toBe(calculateSlot(name));
					expect(keySlot(name)).toBe(keySlot(names[0]));
				}
			}),
			{ numRuns: 1_000 }
		);
	});

	it('give two scopes two tags, even scopes UTF-8 would make alike (lone surrogates)', () => {
		const tag = (scope: string) => requestKeyNames('', scope).claims;
		expect(tag('/ws \uD800')).not.toBe(tag('/ws \uD801'));
		expect(tag('/ws \uD800')).not.toBe(tag('/ws \uFFFD'));
		fc.assert(
			fc.property(scope, scope, (a, b) => {
				fc.pre(a !== b);
				expect(tag(a)).not.toBe(tag(b));
			}),
			{ numRuns: 2_000 }
		);
	});

	it('share no name with a room, its presence or user slots of the same tag', () => {
		const names = Object.values(requestKeyNames('p:', '/ws ada'));
		const room = /^p:\{(.+)\}:/.exec(names[0])![1];
		const others = [
			...Object.values(roomKeys('p:', room)),
			...Object.values(presenceKeys('p:', room)),
			userSlotsKey('p:', room)
		];
		for (const name of names) expect(others).not.toContain(name);
		expect(new Set(names).size).toBe(4);
	});
});

describe('keptAnswer', () => {
	it('keeps an answer up to maxBytes (UTF-8 bytes) as it is, a longer one as answer_not_kept', () => {
		const answer = JSON.stringify(['reply', { name: 'é'.repeat(10) }]);
		const size = Buffer.byteLength(answer);
		expect(keptAnswer(answer, size)).toBe(answer);
		const [name, data] = JSON.parse(keptAnswer(answer, size - 1)) as [string, { code: string }];
		expect([name, data.code]).toEqual(['error', 'answer_not_kept']);
	});
});
