/**
 * fast-check arbitraries that write JSON *text* (so they can say what `JSON.stringify` never would:
 * `__proto__` keys, escaped key spellings, numbers past a double, lone surrogates, nesting too deep
 * to stringify) and the envelopes the suite sends, plus the oracle that says what a server that
 * drops polluted keys must make of it.
 */
import fc from 'fast-check';

/** The words a pollution-safe parser looks at; `isPolluting` says which uses of them it drops. */
export const POLLUTING_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/**
 * Whether a key with this (parsed) value lets a deep merge reach a prototype, so a safe parser must
 * drop it: every `__proto__`, and a `constructor` holding a `prototype`. Other `constructor` and
 * `prototype` fields are data.
 */
export function isPolluting(key: string, value: unknown): boolean {
	return (
		key == '__proto__' ||
		(key == 'constructor' && typeof value == 'object' && value !== null && 'prototype' in value)
	);
}

/** A JSON string literal for `key`, each character written as itself or as a `\uXXXX` escape. */
function keyLiteral(key: string): fc.Arbitrary<string> {
	return fc.array(fc.boolean(), { minLength: key.length, maxLength: key.length }).map((escapes) => {
		const characters = [...key].map((character, index) =>
			escapes[index]
				? `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`
				: JSON.stringify(character).slice(1, -1)
		);
		return `"${characters.join('')}"`;
	});
}

/** A polluting key, spelled plainly or with escapes that a substring scan would miss. */
export const pollutingKey: fc.Arbitrary<string> = fc
	.constantFrom(...POLLUTING_KEYS)
	.chain((key) => fc.oneof(fc.constant(JSON.stringify(key)), keyLiteral(key)));

/** Numbers as JSON text, including what no double holds exactly and what overflows to Infinity. */
export const numberText: fc.Arbitrary<string> = fc.oneof(
	fc.integer().map(String),
	fc.double({ noNaN: true, noDefaultInfinity: true }).map((value) => JSON.stringify(value)),
	fc.constantFrom(
		'1e308',
		'-1e308',
		'1e309',
		'-1e400',
		'5e-324',
		'1e-400',
		'-0',
		'0.0',
		'9007199254740993',
		'123456789012345678901234567890123456789',
		'1' + '0'.repeat(400)
	)
);

/** Strings as JSON text: any code points, lone surrogates, control escapes, now and then long. */
export const stringText: fc.Arbitrary<string> = fc.oneof(
	{
		weight: 6,
		arbitrary: fc.string({ unit: 'binary', maxLength: 40 }).map((s) => JSON.stringify(s))
	},
	{ weight: 1, arbitrary: fc.constantFrom('"\\ud800"', '"\\udfff\\ud800"', '"\\u0000"', '"\\\\"') },
	{
		weight: 1,
		arbitrary: fc.integer({ min: 1_000, max: 20_000 }).map((length) => `"${'x'.repeat(length)}"`)
	}
);

/** Any JSON value as text, objects sometimes carrying polluting keys at any depth. */
export const valueText: fc.Arbitrary<string> = fc.letrec<{ value: string }>((tie) => ({
	value: fc.oneof(
		{ depthSize: 'small', withCrossShrink: true },
		fc.constantFrom('null', 'true', 'false'),
		numberText,
		stringText,
		fc.array(tie('value'), { maxLength: 5 }).map((items) => `[${items.join(',')}]`),
		fc
			.array(
				fc.tuple(
					fc.oneof(
						{ weight: 4, arbitrary: fc.string({ maxLength: 8 }).map((key) => JSON.stringify(key)) },
						{ weight: 1, arbitrary: pollutingKey }
					),
					tie('value')
				),
				{ maxLength: 5 }
			)
			.map((entries) => `{${entries.map(([key, value]) => `${key}:${value}`).join(',')}}`)
	)
})).value;

/** Arrays or objects nested hundreds to thousands deep, within 60 000 bytes (under `maxPayload`). */
export const deepText: fc.Arbitrary<string> = fc
	.tuple(fc.integer({ min: 100, max: 10_000 }), fc.constantFrom('[', '{"a":', '{"__proto__":'))
	.map(([depth, open]) => {
		const close = open == '[' ? ']' : '}';
		const levels = Math.min(depth, Math.floor(60_000 / (open.length + close.length)));
		return open.repeat(levels) + '0' + close.repeat(levels);
	});

/** Message names: reserved ones, the fixture's, random ones, and values that are not strings. */
export const nameText: fc.Arbitrary<string> = fc.oneof(
	fc
		.constantFrom(
			'auth',
			'room.join',
			'room.leave',
			'connected',
			'room.joined',
			'reply',
			'error',
			'echo',
			'boom',
			'slow-check',
			'explode',
			'reject',
			'probe',
			'on-message.throw',
			'on-message.reject',
			'',
			'__proto__',
			'constructor',
			'toString',
			'hasOwnProperty'
		)
		.map((name) => JSON.stringify(name)),
	stringText,
	valueText
);

/** Request ids that are not plain integers, for the parts of the oracle that do not count answers. */
export const weirdIdText: fc.Arbitrary<string> = fc.oneof(
	numberText,
	fc.constantFrom('"7"', 'null', 'true', '[]', '{}', '[1]', '-1', '1.5')
);

/** What `data` a message of `name` gets: well-shaped for its name, or anything. */
function dataText(name: string): fc.Arbitrary<string> {
	const room = fc.oneof(
		fc.constantFrom('"a"', '"*"', '""', '"forbidden:x"', '"throws:x"', '"rejects:x"', '"slow:x"'),
		stringText,
		valueText
	);
	const since = fc.oneof(
		fc.constant(''),
		fc
			.tuple(numberText, fc.oneof(stringText, valueText))
			.map(([offset, epoch]) => `,"since":{"offset":${offset},"epoch":${epoch}}`),
		valueText.map((value) => `,"since":${value}`)
	);
	switch (name) {
		case '"auth"':
			return fc.oneof(
				stringText.map((token) => `{"token":${token}}`),
				valueText
			);
		case '"room.join"':
		case '"room.leave"':
			return fc.oneof(
				fc.tuple(room, since).map(([value, rest]) => `{"room":${value}${rest}}`),
				valueText
			);
		case '"boom"':
			return fc.oneof(
				valueText.map((value) => JSON.stringify(value)),
				fc.string().map((text) => JSON.stringify(text)),
				valueText
			);
		case '"slow-check"':
			return fc.oneof(
				numberText.map((n) => `{"n":${n}}`),
				valueText
			);
		default:
			return fc.oneof({ weight: 5, arbitrary: valueText }, { weight: 1, arbitrary: deepText });
	}
}

/** One client → server message as text, with the request id to fill in (or none). */
export interface FuzzMessage {
	/** The frame text, given the id literal to put in (`undefined`: no id field). */
	readonly text: (id: string | undefined) => string;
	/** Whether it carries an id at all; a weird one is already in `weirdId`. */
	readonly idKind: 'request' | 'weird' | 'none';
	readonly weirdId: string;
	/** The name as written (JSON text). */
	readonly name: string;
}

/** Envelopes in every shape: names, data, ids and extra fields mixed, fields sometimes left out. */
export const envelope: fc.Arbitrary<FuzzMessage> = nameText.chain((name) =>
	fc
		.record({
			data: fc.option(dataText(name), { nil: undefined, freq: 8 }),
			withName: fc.oneof(
				{ weight: 9, arbitrary: fc.constant(true) },
				{ weight: 1, arbitrary: fc.constant(false) }
			),
			idKind: fc.constantFrom('request', 'request', 'weird', 'none') as fc.Arbitrary<
				FuzzMessage['idKind']
			>,
			weirdId: weirdIdText,
			extras: fc.array(
				fc.oneof(
					fc.constant('"type":"ping"'),
					fc.tuple(pollutingKey, valueText).map(([key, value]) => `${key}:${value}`),
					numberText.map((timestamp) => `"timestamp":${timestamp}`),
					stringText.map((room) => `"room":${room}`)
				),
				{ maxLength: 2 }
			),
			idFirst: fc.boolean()
		})
		.map(({ data, withName, idKind, weirdId, extras, idFirst }) => ({
			name,
			idKind,
			weirdId,
			text: (id: string | undefined) => {
				const fields = [
					...(withName ? [`"name":${name}`] : []),
					...(data === undefined ? [] : [`"data":${data}`]),
					...extras
				];
				if (id !== undefined) {
					if (idFirst) fields.unshift(`"id":${id}`);
					else fields.push(`"id":${id}`);
				}
				return `{${fields.join(',')}}`;
			}
		}))
);

/** Frames that are not envelopes: heartbeats in odd spellings, truncated JSON, random text. */
export const oddText: fc.Arbitrary<string> = fc.oneof(
	fc.constantFrom(
		'2',
		' 2',
		'2\n',
		'22',
		'3',
		'{"type":"ping"}',
		'{"type":"ping","name":"x"}',
		'{"type":"ping","id":3}',
		'{"type":"PING"}',
		'',
		'null',
		'[]',
		'{}',
		'"2"'
	),
	fc.string({ unit: 'binary', maxLength: 60 }),
	fc.tuple(envelope, fc.nat()).map(([message, cut]) => {
		const text = message.text('1');
		return text.slice(0, cut % Math.max(1, text.length));
	}),
	valueText
);

/**
 * What a server that drops polluted keys sends back for data it echoes: the parsed value without
 * its polluting keys (`isPolluting`) at any depth, through one JSON round trip. Undefined when
 * the value cannot be written as JSON again (nested too deep for this process's stack).
 */
export function expectedEcho(text: string): unknown {
	try {
		const stripped = JSON.parse(text, (key, value: unknown) =>
			isPolluting(key, value) ? undefined : value
		);
		return JSON.parse(JSON.stringify(stripped) ?? 'null');
	} catch {
		return undefined;
	}
}

/** Paths (`a.b.0`) of polluting keys that are own properties anywhere inside `value`. */
export function pollutedPaths(value: unknown, path = '$'): string[] {
	if (typeof value != 'object' || value === null) return [];
	const found: string[] = [];
	for (const key of Object.keys(value)) {
		if (isPolluting(key, (value as Record<string, unknown>)[key])) found.push(`${path}.${key}`);
		found.push(...pollutedPaths((value as Record<string, unknown>)[key], `${path}.${key}`));
	}
	return found;
}
