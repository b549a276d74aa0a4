import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RedisEngine, RedisPublisher } from '../../../src/lib/redis/index.js';
import {
	checkPrefix,
	keySlot,
	presenceKeys,
	roomKeys,
	roomTag
} from '../../../src/lib/redis/keys.js';

/** The slot ioredis sends a key to (the package ships no types). */
const calculateSlot = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

/** Names an attacker would try: braces where they end a tag, escapes, nothing, a lot, unicode. */
const HOSTILE = [
	'',
	'}',
	'{',
	'}}',
	'{}',
	'}{',
	'}x',
	'x}',
	'{x}',
	'%',
	'%7D',
	'%25',
	'%%7D',
	'}%7D',
	'a}b{c',
	'😀}',
	'é{}',
	'\u0000}',
	'\uD800',
	'\uDFFF',
	'\uD83D}',
	'x\uDE00\uD83D',
	'%uD800',
	'}'.repeat(300),
	'x'.repeat(10_000)
];

/** Strings rich in the characters the tag treats specially. */
const tricky = fc.string({
	unit: fc.constantFrom('}', '{', '%', '7', 'D', '2', '5', 'u', 'a', '😀', '\uD800', '\uDC00'),
	maxLength: 12
});
const anyName = fc.oneof(tricky, fc.string({ unit: 'binary', maxLength: 20 }));

/** `roomTag` undone: if it gives every name back, no two names share a tag. */
function decode(tag: string): string {
	if (tag == '%') return '';
	return tag.replace(/%(25|7D|u[0-9A-F]{4})/g, (_, code: string) =>
		code == '25' ? '%' : code == '7D' ? '}' : String.fromCharCode(parseInt(code.slice(1), 16))
	);
}

/** The hash tag Redis sees in `key`: what lies between its first `{` and the next `}`. */
function hashTag(key: string): string | undefined {
	const open = key.indexOf('{');
	const close = key.indexOf('}', open + 1);
	return open >= 0 && close > open + 1 ? key.slice(open + 1, close) : undefined;
}

function allKeys(prefix: string, room: string): string[] {
	return [...Object.values(roomKeys(prefix, room)), ...Object.values(presenceKeys(prefix, room))];
}

describe('room hash tags', () => {
	it('keep today’s keys for ordinary names', () => {
		expect(roomKeys('runesocket:', 'team:acme')).toEqual({
			position: 'runesocket:{team:acme}:position',
			history: 'runesocket:{team:acme}:history',
			channel: 'runesocket:{team:acme}:messages'
		});
		expect(presenceKeys('app:', 'a{b').users).toBe('app:{a{b}:presence-users');
		fc.assert(
			fc.property(anyName, (room) => {
				fc.pre(room !== '' && !room.includes('}') && !room.includes('%') && room.isWellFormed());
				expect(roomTag(room)).toBe(room);
			})
		);
	});

	it('give every key of a room one non-empty tag, whatever its name', () => {
		const check = (room: string) => {
			const tag = roomTag(room);
			expect(tag.length).toBeGreaterThan(0);
			// What Redis receives: a lone surrogate would go as U+FFFD, and ioredis would hash it apart.
			expect(tag.isWellFormed()).toBe(true);
			for (const key of allKeys('runesocket:', room)) {
				expect(hashTag(key), key).toBe(tag);
				// The publish queue groups by keySlot; ioredis sends by cluster-key-slot: they agree.
				expect(keySlot(key)).toBe(calculateSlot(key));
			}
		};
		HOSTILE.forEach(check);
		fc.assert(fc.property(anyName, check), { numRuns: 2_000 });
	});

	it('are injective: two names never share a tag', () => {
		const tags = new Map(HOSTILE.map((room) => [roomTag(room), room]));
		expect(tags.size).toBe(HOSTILE.length);
		fc.assert(
			fc.property(anyName, anyName, (a, b) => {
				fc.pre(a !== b);
				expect(roomTag(a)).not.toBe(roomTag(b));
			}),
			{ numRuns: 5_000 }
		);
		HOSTILE.forEach((room) => expect(decode(roomTag(room))).toBe(room));
		fc.assert(
			fc.property(anyName, (room) => {
				expect(decode(roomTag(room))).toBe(room);
			}),
			{ numRuns: 5_000 }
		);
	});

	it('hash a key as Redis does: its tag when not empty, else all of it', () => {
		expect(keySlot('123456789')).toBe(12739);
		expect(keySlot('{123456789}x')).toBe(12739);
		expect(keySlot('x{a}b}')).toBe(keySlot('a'));
		// An empty tag does not count: the whole key is hashed (cluster-key-slot takes the next `}`).
		expect(keySlot('{}123456789')).not.toBe(keySlot('123456789'));
		expect(keySlot('{}}')).not.toBe(calculateSlot('{}}'));
	});
});

describe('prefix', () => {
	it('refuses braces, which would move the tag out of the room, with a TypeError', () => {
		for (const prefix of ['a{', '}', 'app:{x}:', '{']) {
			expect(() => checkPrefix(prefix, 'RedisEngine')).toThrow(TypeError);
			expect(() => new RedisEngine({ redis: 'redis://127.0.0.1:1', prefix })).toThrow(
				/RedisEngine prefix must be a string without "\{" or "\}"/
			);
			expect(() => new RedisPublisher({ redis: 'redis://127.0.0.1:1', prefix })).toThrow(
				/RedisPublisher prefix must be a string without "\{" or "\}"/
			);
		}
		expect(() => checkPrefix(42, 'RedisEngine')).toThrow(TypeError);
		expect(checkPrefix('', 'RedisEngine')).toBe('');
		expect(checkPrefix('app:', 'RedisEngine')).toBe('app:');
	});
});
