import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { safeJsonParse } from '../../../src/lib/protocol/safe-json.js';
import { isPolluting } from '../../kit/fuzz/fuzz-json.js';

/** Words the generators use as keys: only some uses of them are dangerous (`isPolluting`). */
const FORBIDDEN = ['__proto__', 'constructor', 'prototype'] as const;

/** Each dangerous key with a value that makes it dangerous. */
const DANGEROUS = [
	['__proto__', '{"polluted":true}'],
	['constructor', '{"prototype":{"polluted":true}}']
] as const;

/** What safeJsonParse must always equal: JSON.parse with a reviver that drops the dangerous keys. */
function parseWithReviver(text: string): unknown {
	return JSON.parse(text, (key, value: unknown) => (isPolluting(key, value) ? undefined : value));
}

/** Paths of the dangerous keys left anywhere in a parsed value. */
function dangerousKeys(value: unknown, path = '$'): string[] {
	if (!isObject(value)) return [];
	return Object.keys(value).flatMap((key) => [
		...(isPolluting(key, value[key]) ? [`${path}.${key}`] : []),
		...dangerousKeys(value[key], `${path}.${key}`)
	]);
}

/** Every character of a JSON string literal as a `\u` escape. */
function escapeAll(text: string): string {
	return [...text].map((char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`).join('');
}

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

	it.each(DANGEROUS)('drops a top-level "%s" key and keeps the others', (key, value) => {
		const parsed = safeJsonParse(`{"a":1,"${key}":${value},"z":"kept"}`);
		expect(isObject(parsed) && Object.hasOwn(parsed, key)).toBe(false);
		expect(parsed).toEqual({ a: 1, z: 'kept' });
		expect(Object.keys(parsed as object)).toEqual(['a', 'z']);
		expect(Object.getPrototypeOf(parsed)).toBe(Object.prototype);
	});

	it.each(DANGEROUS)('drops "%s" in nested objects', (key, value) => {
		const parsed = safeJsonParse(
			`{"level1":{"${key}":${value},"keep":1,"level2":{"${key}":${value},"deep":{"${key}":${value}}}}}`
		);
		expect(parsed).toEqual({ level1: { keep: 1, level2: { deep: {} } } });
		expect(allKeys(parsed)).not.toContain(key);
	});

	it.each(DANGEROUS)('drops "%s" inside objects inside arrays', (key, value) => {
		const parsed = safeJsonParse(
			`[{"${key}":${value},"id":1},[{"${key}":${value},"id":2}],{"list":[{"${key}":${value},"id":3}]}]`
		);
		expect(parsed).toEqual([{ id: 1 }, [{ id: 2 }], { list: [{ id: 3 }] }]);
		expect(allKeys(parsed)).not.toContain(key);
	});

	it('keeps forbidden words when they are values, or only part of a key', () => {
		expect(safeJsonParse('"constructor"')).toBe('constructor');
		expect(safeJsonParse('["\\u005f_proto__"]')).toEqual(['__proto__']);
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

	it('keeps "constructor" and "prototype" fields through which no merge can reach a prototype', () => {
		const text =
			'{"constructor":"Ada","prototype":{"x":1},"a":{"constructor":{"name":"Ada"},"b":[{"constructor":[1]}]}}';
		expect(safeJsonParse(text)).toEqual(JSON.parse(text));
		expect(safeJsonParse('{"constructor":null,"prototype":null}')).toEqual({
			constructor: null,
			prototype: null
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

	it.each(['\\u005f_proto__', 'constructo\\u0072', '__prot\\u006f__', '\\u0063onstructor'])(
		'drops a key spelled with a \\u escape: "%s"',
		(spelled) => {
			const parsed = safeJsonParse(
				`{"a":{"${spelled}":{"prototype":1},"b":[{"${spelled}":{"prototype":{}}}]},"c":3}`
			);
			expect(parsed).toEqual({ a: { b: [{}] }, c: 3 });
		}
	);

	it.each(DANGEROUS)('drops "%s" written entirely in escapes', (key, value) => {
		expect(safeJsonParse(`[{"${escapeAll(key)}":${value},"ok":true}]`)).toEqual([{ ok: true }]);
	});

	it('keeps escaped keys that only look like forbidden ones', () => {
		const text =
			'{"\\u005f_proto_":1,"constructors":2,"\\u0041":"\\u005f_proto__","\\\\u005f_proto__":3}';
		expect(safeJsonParse(text)).toEqual(parseWithReviver(text));
		expect(Object.keys(safeJsonParse(text) as object)).toEqual([
			'__proto_',
			'constructors',
			'A',
			'\\u005f_proto__'
		]);
	});

	it('drops forbidden keys anywhere in a 64 KiB frame, and leaves a clean one as JSON.parse does', () => {
		const items = Array.from({ length: 2_000 }, (_, id) => ({ id, title: `item ${id}`, ok: true }));
		const clean = JSON.stringify({ name: 'heavy', data: items });
		expect(clean.length).toBeGreaterThan(64 * 1024);
		expect(safeJsonParse(clean)).toEqual(JSON.parse(clean));

		const polluted = clean.replace(/"ok":true}]}$/, '"ok":true,"__proto__":{"polluted":1}}]}');
		const parsed = safeJsonParse(polluted) as { data: Record<string, unknown>[] };
		expect(parsed.data).toHaveLength(2_000);
		expect(Object.keys(parsed.data[1_999])).toEqual(['id', 'title', 'ok']);
		expect(parsed).toEqual(parseWithReviver(polluted));
	});

	it('drops a forbidden key 20,000 levels deep without overflowing the stack', () => {
		const depth = 20_000;
		const parsed = safeJsonParse(
			`${'{"a":'.repeat(depth)}{"constructor":{"prototype":1},"b":2}${'}'.repeat(depth)}`
		);
		let innermost = parsed as Record<string, unknown>;
		for (let level = 0; level < depth; level++) innermost = innermost.a as Record<string, unknown>;
		expect(innermost).toEqual({ b: 2 });
	});

	it('equals JSON.parse with the reviver for arbitrary JSON, forbidden keys and escapes included', () => {
		const key = fc.oneof(
			fc.constantFrom(...FORBIDDEN, '__proto__x', 'Constructor', 'proto'),
			fc.string({ unit: 'binary' })
		);
		const { value } = fc.letrec<{ value: unknown }>((tie) => ({
			value: fc.oneof(
				{ depthSize: 'small', withCrossShrink: true },
				fc.constant(null),
				fc.boolean(),
				fc.double({ noNaN: true, noDefaultInfinity: true }),
				fc.string({ unit: 'binary' }),
				fc.constantFrom(...FORBIDDEN),
				fc.array(tie('value')),
				fc.array(fc.tuple(key, tie('value'))).map((entries) => new ObjectEntries(entries))
			)
		}));
		fc.assert(
			fc.property(value, fc.array(fc.boolean(), { minLength: 1 }), (generated, escapes) => {
				const text = writeJson(generated, escapes);
				const expected = parseWithReviver(text);
				const parsed = safeJsonParse(text);
				// Equal as JSON, key order included (apps may rely on it, and the reviver keeps it).
				// Not toStrictEqual: it compares `constructor` properties, which may be data here.
				expect(JSON.stringify(parsed)).toBe(JSON.stringify(expected));
				expect(dangerousKeys(parsed)).toEqual([]);
			}),
			{ numRuns: 500 }
		);
	});

	it('throws a SyntaxError exactly when JSON.parse does, and otherwise equals the reviver', () => {
		const text = fc.oneof(
			fc.string(),
			fc.json().chain((json) => fc.nat(json.length).map((cut) => json.slice(0, cut)))
		);
		fc.assert(
			fc.property(text, (candidate) => {
				let expected: unknown;
				try {
					expected = parseWithReviver(candidate);
				} catch {
					expect(() => safeJsonParse(candidate)).toThrow(SyntaxError);
					return;
				}
				expect(safeJsonParse(candidate)).toStrictEqual(expected);
			}),
			{ numRuns: 500 }
		);
	});

	it.each(['', '{', '{"a":1,}', "{'a':1}", '{"a":undefined}', '[1,2', 'nope', '{"__proto__":'])(
		'throws a SyntaxError on malformed JSON: %j',
		(text) => {
			expect(() => safeJsonParse(text)).toThrow(SyntaxError);
		}
	);
});

/** A generated JSON object as its entries, so forbidden and repeated keys survive until written. */
class ObjectEntries {
	constructor(readonly entries: [string, unknown][]) {}
}

/**
 * JSON text for a generated value, objects written from their entries in order (repeats included),
 * every character of every string as a `\u` escape or plainly, following the cycling `escapes`.
 */
function writeJson(value: unknown, escapes: boolean[]): string {
	let next = 0;
	const quote = (text: string) => {
		let written = '"';
		for (let index = 0; index < text.length; index++) {
			const unit = text.charCodeAt(index);
			written += escapes[next++ % escapes.length]
				? `\\u${unit.toString(16).padStart(4, '0')}`
				: JSON.stringify(text[index]).slice(1, -1);
		}
		return `${written}"`;
	};
	const write = (node: unknown): string => {
		if (typeof node == 'string') return quote(node);
		if (Array.isArray(node)) return `[${node.map(write).join(',')}]`;
		if (!(node instanceof ObjectEntries)) return JSON.stringify(node);
		return `{${node.entries.map(([key, item]) => `${quote(key)}:${write(item)}`).join(',')}}`;
	};
	return write(value);
}

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
