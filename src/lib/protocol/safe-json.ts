const FORBIDDEN_KEYS = ['__proto__', 'constructor', 'prototype'];

/**
 * Text that could hold a forbidden key. JSON keys are quoted strings, so a forbidden key is spelled
 * out between quotes, unless a `\u` escape hides one of its letters; `\/` and the other one-letter
 * escapes stand for characters none of the keys contains. One regular-expression pass over a
 * 64 KiB frame costs tens of microseconds; a reviver costs a function call per key.
 */
const MAY_HOLD_FORBIDDEN_KEY = /\\u|"(?:__proto__|constructor|prototype)"/;

/**
 * Parses JSON like `JSON.parse`, but drops every `__proto__`, `constructor` and `prototype` key at
 * any depth, so parsed input can be merged into objects without polluting their prototypes.
 * Throws a `SyntaxError` on malformed JSON, like `JSON.parse`. Text that cannot hold such a key
 * (the usual case) costs one plain `JSON.parse` and a scan.
 *
 * @example
 * ```ts
 * safeJsonParse('{"a":1,"__proto__":{"admin":true}}'); // { a: 1 }
 * ```
 */
export function safeJsonParse(text: string): unknown {
	const value: unknown = JSON.parse(text);
	if (MAY_HOLD_FORBIDDEN_KEY.test(text)) {
		// A for-of over an array that grows visits what is pushed during the loop: a walk of every
		// depth without recursion, so no nesting can overflow the stack.
		// Only objects are queued, so a long array of numbers costs one loop over it. The root is an
		// object, an array or a string: no other JSON value can contain a quote or a backslash.
		const pending = [value as object];
		for (const item of pending) {
			// JSON.parse defines `__proto__` as an own data property, so deleting it touches no prototype.
			for (const key of FORBIDDEN_KEYS) delete (item as Record<string, unknown>)[key];
			for (const child of Object.values(item)) {
				if (typeof child == 'object' && child) pending.push(child);
			}
		}
	}
	return value;
}
