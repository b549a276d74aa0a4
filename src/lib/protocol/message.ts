import type {
	InferOutput,
	StandardIssue,
	StandardResult,
	StandardSchema
} from './standard-schema.js';

/**
 * A named, typed message both ends agree on. Create one with `ClientMessage.define`.
 * With a schema, inbound data is validated before any handler sees it.
 *
 * @example
 * ```ts
 * const Ping: MessageDefinition<{ at: number }> = ClientMessage.define<{ at: number }>('ping');
 * ```
 */
export interface MessageDefinition<Data> {
	/** The message name on the wire. */
	readonly name: string;
	/** The Standard Schema that inbound data must pass, if any. */
	readonly schema: StandardSchema<unknown, Data> | undefined;
}

/**
 * The payload type a message definition carries.
 *
 * @example
 * ```ts
 * type Incident = MessageData<typeof IncidentCreated>;
 * ```
 */
export type MessageData<Definition> =
	Definition extends MessageDefinition<infer Data> ? Data : never;

function define<Data>(name: string): MessageDefinition<Data>;
function define<Schema extends StandardSchema>(
	name: string,
	schema: Schema
): MessageDefinition<InferOutput<Schema>>;
function define(name: string, schema?: StandardSchema): MessageDefinition<unknown> {
	if (typeof name != 'string' || !name) {
		throw new TypeError(`Bad message name: ${String(name)}`);
	}
	if (schema && typeof schema['~standard']?.validate != 'function') {
		throw new TypeError(`${name}: not a Standard Schema`);
	}
	return Object.freeze({ name, schema });
}

/**
 * Defines typed messages: by type alone (`define<T>(name)`) or with any Standard Schema
 * (`define(name, schema)`), whose output type then becomes the message type.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * const IncidentCreated = ClientMessage.define(
 * 	'incident.created',
 * 	z.object({ uuid: z.string(), title: z.string() })
 * );
 * const Typing = ClientMessage.define<{ user: string }>('typing');
 * ```
 */
export const ClientMessage = { define };

/**
 * Runs a definition's schema (if any) over inbound data. Returns the result as the schema gives it,
 * which may be a promise for schemas with async refinements.
 */
export function validateMessage<Data>(
	definition: Pick<MessageDefinition<Data>, 'schema'>,
	data: unknown
): StandardResult<Data> | Promise<StandardResult<Data>> {
	return definition.schema
		? definition.schema['~standard'].validate(data)
		: { value: data as Data };
}

/**
 * The problems a schema found, in one line: what both ends put in their validation errors.
 */
export function describeIssues(issues: ReadonlyArray<StandardIssue>): string {
	return issues.map((issue) => issue.message).join('; ');
}
