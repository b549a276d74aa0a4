import { afterEach, describe, expect, it } from 'vitest';
import { safeJsonParse } from '../../src/lib/index.js';

const FORBIDDEN = ['__proto__', 'constructor', 'prototype'] as const;

function isObject(value: unknown): value is Record<string, unknown> {
	return typeof value == 'object' && value !== null;
}

/** Every own key found anywhere in a parsed value, objects and arrays alike. */
function allKeys(value: unknown, found: string[] = []): string[] {
	if (!isObject(value)) return found;
	for (const key of Object.keys(value)) {
		found.push(key);
		allKeys(value[key], found);
	}
	return found;
}

describe('safeJsonParse', () => {
	afterEach(() => {
		// Undo any pollution so one failing test cannot leak into the others.
		for (const key of ['polluted', 'admin', 'evil']) {
			delete (Object.prototype as Record<string, unknown>)[key];
		}
	});

	it('parses like JSON.parse when nothing is forbidden', () => {
		const text = '{"a":1,"b":[true,null,"x",{"c":2.5}],"d":{"e":{"f":"g"}}}';
		expect(safeJsonParse(text)).toEqual(JSON.parse(text));
		expect(safeJsonParse('42')).toBe(42);
		expect(safeJsonParse('"text"')).toBe('text');
		expect(safeJsonParse('null')).toBeNull();
		expect(safeJsonParse('[1,2,3]')).toEqual([1, 2, 3]);
	});

	it.each(FORBIDDEN)('drops a top-level "%s" key and keeps the others', (key) => {
		const parsed = safeJsonParse(`{"a":1,"${key}":{"polluted":true},"z":"kept"}`);
		expect(isObject(parsed) && Object.hasOwn(parsed, key)).toBe(false);
		expect(parsed).toEqual({ a: 1, z: 'kept' });
		expect(Object.keys(parsed as object)).toEqual(['a', 'z']);
		expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
	});

	it.each(FORBIDDEN)('drops "%s" in nested objects', (key) => {
		const parsed = safeJsonParse(
			`{"level1":{"${key}":{"polluted":1},"keep":1,"level2":{"${key}":2,"deep":{"${key}":[3]}}}}`
		);
		expect(parsed).toEqual({ level1: { keep: 1, level2: { deep: {} } } });
		expect(allKeys(parsed)).not.toContain(key);
	});

	it.each(FORBIDDEN)('drops "%s" inside objects inside arrays', (key) => {
		const parsed = safeJsonParse(
			`[{"${key}":{"polluted":true},"id":1},[{"${key}":1,"id":2}],{"list":[{"${key}":null,"id":3}]}]`
		);
		expect(parsed).toEqual([{ id: 1 }, [{ id: 2 }], { list: [{ id: 3 }] }]);
		expect(allKeys(parsed)).not.toContain(key);
	});

	it('keeps forbidden words when they are values, or only part of a key', () => {
		const parsed = safeJsonParse(
			'{"name":"__proto__","tags":["constructor","prototype"],"__proto__x":1,"myconstructor":2,"prototypes":3}'
		);
		expect(parsed).toEqual({
			name: '__proto__',
			tags: ['constructor', 'prototype'],
			__proto__x: 1,
			myconstructor: 2,
			prototypes: 3
		});
	});

	it('does not pollute Object.prototype, at any depth', () => {
		const payloads = [
			'{"__proto__":{"polluted":"top"}}',
			'{"a":{"__proto__":{"polluted":"nested"}}}',
			'[{"__proto__":{"polluted":"array"}}]',
			'{"constructor":{"prototype":{"polluted":"ctor"}}}',
			'{"a":[{"constructor":{"prototype":{"admin":true}}}]}'
		];
		for (const payload of payloads) {
			const parsed = safeJsonParse(payload);
			// The classic attack: merge parsed input into a fresh object.
			const target: Record<string, unknown> = {};
			Object.assign(target, parsed);
			deepMerge(target, parsed);
			expect(({} as Record<string, unknown>).polluted, payload).toBeUndefined();
			expect(({} as Record<string, unknown>).admin, payload).toBeUndefined();
			expect(Object.prototype).not.toHaveProperty('polluted');
		}
	});

	it('leaves every parsed object with the ordinary prototype', () => {
		const parsed = safeJsonParse('{"__proto__":null,"a":{"__proto__":[]}}');
		expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
		expect(isObject(parsed) && Object.getPrototypeOf(parsed.a)).toBe(Object.prototype);
		expect(parsed).toEqual({ a: {} });
	});

	it.each(['', '{', '{"a":1,}', "{'a':1}", '{"a":undefined}', '[1,2', 'nope', '{"__proto__":'])(
		'throws a SyntaxError on malformed JSON: %j',
		(text) => {
			expect(() => safeJsonParse(text)).toThrow(SyntaxError);
		}
	);
});

/** A naive recursive merge, the kind prototype pollution usually goes through. */
function deepMerge(target: Record<string, unknown>, source: unknown): void {
	if (!isObject(source)) return;
	for (const key of Object.keys(source)) {
		const value = source[key];
		if (isObject(value)) {
			if (!isObject(target[key])) target[key] = {};
			deepMerge(target[key] as Record<string, unknown>, value);
		} else {
			target[key] = value;
		}
	}
}
