// The projects of every demo account, in a module of plain data that the page, the rules of
// incident-rules.ts and the server all read.

/** The projects every demo account has, and the monitors each one watches. */
export const PROJECTS: Record<string, string[]> = {
	web: ['Homepage', 'Checkout'],
	api: ['REST API', 'Webhooks'],
	data: ['Postgres', 'Redis']
};

/**
 * Whether `name` is one of the `PROJECTS`: its own key, never one every object inherits
 * (`constructor`, `__proto__`, `toString`), which `name in PROJECTS` would accept.
 *
 * @example
 * ```ts
 * isProject('web'); // true
 * isProject('constructor'); // false
 * ```
 */
export function isProject(name: string): boolean {
	return Object.hasOwn(PROJECTS, name);
}
