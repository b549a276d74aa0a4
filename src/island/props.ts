/**
 * The id of the `<script type="application/json">` element that carries an island's props, next to
 * the element the island hydrates (whose id is `islandId`).
 *
 * @example
 * ```ts
 * propsElementId('dashboard'); // 'dashboard-props'
 * ```
 */
export function propsElementId(islandId: string): string {
	return `${islandId}-props`;
}

/**
 * `value` as JSON that is safe inside a `<script>` element: every `<` is escaped, so no string in
 * it can close the element (`</script>`) or open a comment that changes how the HTML parser reads
 * what follows (`<!--`). `JSON.parse` reads the escape back as `<`.
 *
 * @example
 * ```ts
 * scriptSafeJson({ title: '</script><script>alert(1)</script>' });
 * // '{"title":"\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"}'
 * ```
 */
export function scriptSafeJson(value: unknown): string {
	return JSON.stringify(value).replaceAll('<', '\\u003c');
}

/**
 * The `<script type="application/json">` element (HTML) that carries island `islandId`'s props. A
 * data block: browsers never run it, so a Content-Security-Policy needs no nonce for it.
 *
 * @example
 * ```ts
 * propsScriptElement('dashboard', { count: 1 });
 * // '<script type="application/json" id="dashboard-props">{"count":1}</script>'
 * ```
 */
export function propsScriptElement(islandId: string, props: unknown): string {
	const id = propsElementId(islandId).replaceAll('"', '&quot;');
	return `<script type="application/json" id="${id}">${scriptSafeJson(props)}</script>`;
}
