import type {
	InferOutput,
	StandardIssue,
	StandardResult,
	StandardSchema
} from './standard-schema.js';
import { isRecord } from './envelope.js';

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
	/**
	 * The conflation key of a room message's data, when only its newest value matters (see
	 * `MessageOptions.conflationKey`). A method, so that a definition of any data is still a
	 * `MessageDefinition<unknown>` where one is asked for.
	 */
	conflationKey?(data: Data): string | number | undefined;
}

/**
 * Options of `ClientMessage.define` (written inline: `define(name, schema, { conflationKey })`).
 */
export interface MessageOptions<Data> {
	/**
	 * For room messages where only the newest value per key matters (a monitor's state, a price, a
	 * cursor): what the message is the latest value of, a string or a finite number (`undefined`: this
	 * one has none). A reader that falls behind, a replay and the page skip every such message that a
	 * newer one of the same room, name and key supersedes (PROTOCOL.md, "Conflation"). Messages
	 * without a key are never skipped.
	 */
	conflationKey?(data: Data): string | number | undefined;
}

/** The longest conflation key a publish accepts (PROTOCOL.md, "Conflation"). */
export const MAX_CONFLATION_KEY_LENGTH = 256;

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

/** Whether `define`'s second argument is its options (which name a conflation key) rather than a schema. */
function isOptions(value: unknown): value is MessageOptions<unknown> {
	return isRecord(value) && 'conflationKey' in value && !('~standard' in value);
}

function define<Data>(name: string, options?: MessageOptions<Data>): MessageDefinition<Data>;
function define<Schema extends StandardSchema>(
	name: string,
	schema: Schema,
	options?: MessageOptions<InferOutput<Schema>>
): MessageDefinition<InferOutput<Schema>>;
function define(
	name: string,
	schemaOrOptions?: StandardSchema | MessageOptions<unknown>,
	moreOptions?: MessageOptions<unknown>
): MessageDefinition<unknown> {
	if (typeof name != 'string' || !name) {
		throw new TypeError(`Bad message name: ${String(name)}`);
	}
	const optionsFirst = isOptions(schemaOrOptions);
	const schema = optionsFirst ? undefined : (schemaOrOptions as StandardSchema | undefined);
	const options = optionsFirst ? schemaOrOptions : moreOptions;
	if (schema && typeof schema['~standard']?.validate != 'function') {
		throw new TypeError(`${name}: not a Standard Schema`);
	}
	const conflationKey = options?.conflationKey;
	if (conflationKey !== undefined && typeof conflationKey != 'function') {
		throw new TypeError(`${name}: conflationKey must be a function of the data`);
	}
	return Object.freeze(conflationKey ? { name, schema, conflationKey } : { name, schema });
}

/**
 * Defines typed messages: by type alone (`define<T>(name)`) or with any Standard Schema
 * (`define(name, schema)`), whose output type then becomes the message type. Options (last) may
 * name a `conflationKey`.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * const IncidentCreated = ClientMessage.define(
 * 	'incident.created',
 * 	z.object({ uuid: z.string(), title: z.string() })
 * );
 * const Typing = ClientMessage.define<{ user: string }>('typing');
 * const MonitorState = ClientMessage.define<{ id: string; status: string }>('monitor.state', {
 * 	conflationKey: (state) => state.id
 * });
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
