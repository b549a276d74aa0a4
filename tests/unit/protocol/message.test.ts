import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import { validateMessage } from '../../../src/lib/protocol/message.js';
import {
	ClientMessage,
	type MessageData,
	type MessageDefinition,
	type StandardSchema
} from '../../../src/lib/index.js';
import {
	type InferOutput,
	type StandardResult
} from '../../../src/lib/protocol/standard-schema.js';

const IncidentSchema = z.object({ uuid: z.string(), title: z.string() });
const IncidentCreated = ClientMessage.define('incident.created', IncidentSchema);
const Typing = ClientMessage.define<{ user: string }>('typing');

/** Narrows a result that must be synchronous, failing the test when it is a promise. */
function syncResult<T>(result: StandardResult<T> | Promise<StandardResult<T>>): StandardResult<T> {
	if (result instanceof Promise) throw new Error('expected a synchronous result, got a promise');
	return result;
}

describe('ClientMessage.define', () => {
	it('defines a message by type alone: a name and no schema', () => {
		expect(Typing).toEqual({ name: 'typing', schema: undefined });
		expect(Typing.name).toBe('typing');
		expect(Typing.schema).toBeUndefined();
	});

	it('defines a message with a zod schema and keeps that very schema', () => {
		expect(IncidentCreated.name).toBe('incident.created');
		expect(IncidentCreated.schema).toBe(IncidentSchema);
	});

	it('returns a frozen definition', () => {
		expect(Object.isFrozen(Typing)).toBe(true);
		expect(Object.isFrozen(IncidentCreated)).toBe(true);
		expect(() => {
			(Typing as { name: string }).name = 'other';
		}).toThrow(TypeError);
		expect(Typing.name).toBe('typing');
	});

	it('throws a TypeError for an empty or non-string name', () => {
		expect(() => ClientMessage.define('')).toThrow(TypeError);
		expect(() => ClientMessage.define('', IncidentSchema)).toThrow(TypeError);
		expect(() => ClientMessage.define(undefined as unknown as string)).toThrow(TypeError);
		expect(() => ClientMessage.define(42 as unknown as string)).toThrow(/Bad message name: 42/);
	});

	it.each([
		['an empty object', {}],
		['a ~standard without validate', { '~standard': { version: 1, vendor: 'x' } }],
		['a non-function validate', { '~standard': { version: 1, vendor: 'x', validate: 'yes' } }],
		['a function', () => ({ value: 1 })],
		['a string', 'z.string()']
	])('throws a TypeError for a schema that is not a Standard Schema: %s', (_, schema) => {
		expect(() => ClientMessage.define('bad', schema as unknown as StandardSchema)).toThrow(
			TypeError
		);
		expect(() => ClientMessage.define('bad', schema as unknown as StandardSchema)).toThrow(
			/bad: not a Standard Schema/
		);
	});

	it('accepts any hand-written Standard Schema', () => {
		const Even: StandardSchema<unknown, number> = {
			'~standard': {
				version: 1,
				vendor: 'test',
				validate: (value) =>
					typeof value == 'number' && value % 2 == 0
						? { value }
						: { issues: [{ message: 'not even' }] }
			}
		};
		const Def = ClientMessage.define('even', Even);
		expect(Def.schema).toBe(Even);
		expect(validateMessage(Def, 4)).toEqual({ value: 4 });
		expect(validateMessage(Def, 3)).toEqual({ issues: [{ message: 'not even' }] });
	});
});

describe('validateMessage', () => {
	it('passes data through untouched (same reference) without a schema', () => {
		const data = { user: 'ada' };
		const result = syncResult(validateMessage(Typing, data));
		expect(result.issues).toBeUndefined();
		expect(result).toEqual({ value: data });
		expect(!result.issues && result.value).toBe(data);
		// Without a schema nothing is checked: wrong data goes through as is.
		expect(validateMessage(Typing, 'not an object')).toEqual({ value: 'not an object' });
	});

	it('returns a synchronous value for valid data with a sync zod schema', () => {
		const result = validateMessage(IncidentCreated, { uuid: 'a1', title: 'DB down', extra: 1 });
		expect(result).not.toBeInstanceOf(Promise);
		// zod strips unknown keys: the value is the schema's output, not the input.
		expect(syncResult(result)).toEqual({ value: { uuid: 'a1', title: 'DB down' } });
	});

	it('returns synchronous issues, with paths, for invalid data', () => {
		const result = syncResult(validateMessage(IncidentCreated, { uuid: 7 }));
		expect(result.issues).toBeDefined();
		const paths = (result.issues ?? []).map((issue) => issue.path);
		expect(paths).toEqual(expect.arrayContaining([['uuid'], ['title']]));
		expect(result.issues).toHaveLength(2);
		for (const issue of result.issues ?? []) expect(issue.message).toEqual(expect.any(String));
		expect('value' in result).toBe(false);
	});

	it('returns the transformed output value of a schema', () => {
		const Stamped = ClientMessage.define(
			'stamped',
			z.object({
				at: z.string().transform((iso) => Date.parse(iso)),
				count: z.coerce.number(),
				tags: z.array(z.string()).default([])
			})
		);
		const result = syncResult(validateMessage(Stamped, { at: '2024-05-01T00:00:00Z', count: '3' }));
		expect(result).toEqual({
			value: { at: Date.UTC(2024, 4, 1), count: 3, tags: [] }
		});
		expectTypeOf(Stamped).toEqualTypeOf<
			MessageDefinition<{ at: number; count: number; tags: string[] }>
		>();
	});

	describe('with an async schema', () => {
		const checked: unknown[] = [];
		const Unique = ClientMessage.define(
			'user.created',
			z.object({ name: z.string() }).refine(
				async ({ name }) => {
					checked.push(name);
					await Promise.resolve();
					return name != 'taken';
				},
				{ message: 'name is taken' }
			)
		);

		it('returns a promise that resolves with the value', async () => {
			const result = validateMessage(Unique, { name: 'ada' });
			expect(result).toBeInstanceOf(Promise);
			await expect(result).resolves.toEqual({ value: { name: 'ada' } });
			expect(checked).toContain('ada');
		});

		it('returns a promise that resolves with the refinement issue', async () => {
			const result = await validateMessage(Unique, { name: 'taken' });
			expect(result.issues).toHaveLength(1);
			expect(result.issues?.[0]?.message).toBe('name is taken');
		});

		it('still reports sync type issues through the promise', async () => {
			const result = validateMessage(Unique, { name: 5 });
			const settled = await result;
			expect(settled.issues?.[0]?.path).toEqual(['name']);
		});
	});
});

describe('types', () => {
	it('infers the message type from the schema output', () => {
		expectTypeOf<MessageData<typeof IncidentCreated>>().toEqualTypeOf<{
			uuid: string;
			title: string;
		}>();
		expectTypeOf(IncidentCreated).toEqualTypeOf<
			MessageDefinition<{ uuid: string; title: string }>
		>();
		expectTypeOf<InferOutput<typeof IncidentSchema>>().toEqualTypeOf<{
			uuid: string;
			title: string;
		}>();
	});

	it('takes the message type from the type argument when there is no schema', () => {
		expectTypeOf<MessageData<typeof Typing>>().toEqualTypeOf<{ user: string }>();
		expectTypeOf(Typing).toEqualTypeOf<MessageDefinition<{ user: string }>>();
		expectTypeOf(Typing.schema).toEqualTypeOf<
			StandardSchema<unknown, { user: string }> | undefined
		>();
	});

	it('uses the output type (not the input type) of a transforming schema', () => {
		const Count = ClientMessage.define(
			'count',
			z.string().transform((s) => s.length)
		);
		expectTypeOf<MessageData<typeof Count>>().toEqualTypeOf<number>();
		expectTypeOf<MessageData<typeof Count>>().not.toEqualTypeOf<string>();
		expect(validateMessage(Count, 'four')).toEqual({ value: 4 });
	});

	it('types validateMessage results by the definition', () => {
		expectTypeOf(validateMessage(IncidentCreated, {})).toEqualTypeOf<
			| StandardResult<{ uuid: string; title: string }>
			| Promise<StandardResult<{ uuid: string; title: string }>>
		>();
		expectTypeOf(validateMessage(Typing, {})).toEqualTypeOf<
			StandardResult<{ user: string }> | Promise<StandardResult<{ user: string }>>
		>();
	});

	it('MessageData of something that is not a definition is never', () => {
		expectTypeOf<MessageData<{ name: string }>>().toBeNever();
		expectTypeOf<MessageData<string>>().toBeNever();
	});

	it('rejects a schema argument that is not a Standard Schema at compile time', () => {
		// @ts-expect-error a plain object is not a Standard Schema
		expect(() => ClientMessage.define('x', { parse: () => 1 })).toThrow(TypeError);
	});
});

describe('ClientMessage.define with a conflation key', () => {
	const keyOf = (state: { id: string }) => state.id;

	it('takes options as the second argument without a schema', () => {
		const State = ClientMessage.define<{ id: string }>('state', { conflationKey: keyOf });
		expect(State).toEqual({ name: 'state', schema: undefined, conflationKey: keyOf });
		expect(State.conflationKey?.({ id: 'm1' })).toBe('m1');
		expect(Object.isFrozen(State)).toBe(true);
	});

	it('takes options as the third argument, after a schema', () => {
		const schema = z.object({ id: z.string() });
		const State = ClientMessage.define('state', schema, { conflationKey: keyOf });
		expect(State.schema).toBe(schema);
		expect(State.conflationKey).toBe(keyOf);
	});

	it('accepts options that name no key (and then carries none)', () => {
		expect(ClientMessage.define('state', { conflationKey: undefined })).toEqual({
			name: 'state',
			schema: undefined
		});
		expect(ClientMessage.define('state', IncidentSchema, {})).not.toHaveProperty('conflationKey');
	});

	it('still refuses an object that is neither a schema nor options naming a key', () => {
		expect(() => ClientMessage.define('state', {} as unknown as StandardSchema)).toThrow(
			new TypeError('state: not a Standard Schema')
		);
	});

	it('treats a Standard Schema with a conflationKey property as the schema', () => {
		const schema = {
			...IncidentSchema,
			'~standard': IncidentSchema['~standard'],
			conflationKey: keyOf
		};
		const Defined = ClientMessage.define('incident', schema);
		expect(Defined.schema).toBe(schema);
		expect(Defined.conflationKey).toBeUndefined();
	});

	it.each([
		['a string', 'id'],
		['a number', 1],
		['null', null],
		['an object', { id: 1 }]
	])('throws a TypeError for a conflationKey that is %s, not a function', (_, conflationKey) => {
		const options = { conflationKey } as unknown as { conflationKey: typeof keyOf };
		expect(() => ClientMessage.define('state', options)).toThrow(
			new TypeError('state: conflationKey must be a function of the data')
		);
		expect(() => ClientMessage.define('state', IncidentSchema, options as never)).toThrow(
			new TypeError('state: conflationKey must be a function of the data')
		);
	});
});
