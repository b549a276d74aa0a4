/**
 * The part of the Standard Schema v1 interface (https://standardschema.dev) runesocket relies on.
 * zod 4, valibot and arktype schemas all satisfy it, so none of them is a dependency.
 *
 * @example
 * ```ts
 * import { z } from 'zod';
 * const schema: StandardSchema<unknown, { id: string }> = z.object({ id: z.string() });
 * ```
 */
export interface StandardSchema<Input = unknown, Output = Input> {
	readonly '~standard': {
		readonly version: 1;
		readonly vendor: string;
		readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
		readonly types?: { readonly input: Input; readonly output: Output } | undefined;
	};
}

/**
 * What a Standard Schema's `validate` returns: the parsed value, or the issues found.
 */
export type StandardResult<Output> =
	| { readonly value: Output; readonly issues?: undefined }
	| { readonly issues: ReadonlyArray<StandardIssue> };

/**
 * One problem a schema found in a value.
 */
export interface StandardIssue {
	readonly message: string;
	readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
}

/**
 * The type a Standard Schema produces.
 */
export type InferOutput<Schema extends StandardSchema> = NonNullable<
	Schema['~standard']['types']
>['output'];
