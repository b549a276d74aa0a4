import { stringify } from 'devalue';
import { describe, expect, it } from 'vitest';
import { flatData } from '../../../src/routes/components/enhance.js';

// The dashboard's forms read an action's data from the devalue text SvelteKit answers with, without
// devalue's parser: only the top level's plain values, which is all the demo's actions send.

describe('flatData', () => {
	it('reads what the actions answer: a field with a message, numbers, booleans, null', () => {
		const data = { create: 'A title of 1 to 120 characters.', count: 50, retry: false, none: null };
		expect(flatData(stringify(data))).toEqual(data);
	});

	it('leaves out what is nested, undefined or not an object at the top', () => {
		expect(flatData(stringify({ message: 'ok', nested: { deep: 1 }, gone: undefined }))).toEqual({
			message: 'ok'
		});
		expect(flatData(stringify('just text'))).toEqual({});
		expect(flatData(stringify(['a', 'b']))).toEqual({});
		expect(flatData(stringify(undefined))).toEqual({});
	});

	it('reads the same strings devalue would, escapes included', () => {
		const message = 'Line one\nline “two” </script> \u2028';
		expect(flatData(stringify({ resolve: message }))).toEqual({ resolve: message });
	});
});

describe('flatData on hostile field names', () => {
	it('keeps __proto__ an own field: the result’s prototype never changes', () => {
		const data = flatData('[{"__proto__":1,"constructor":2},null,"text"]');
		expect(Object.getPrototypeOf(data)).toBe(Object.prototype);
		expect(Object.getOwnPropertyDescriptor(data, '__proto__')?.value).toBeNull();
		expect(Object.getOwnPropertyDescriptor(data, 'constructor')?.value).toBe('text');
	});
});
