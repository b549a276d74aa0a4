import { hydrate, type Component } from 'svelte';
import { propsElementId } from './props.js';

/**
 * Hydrates the server-rendered island `id` (rendered by `Island.svelte`) with `component` and the
 * props the server rendered it with, which `Island.svelte` put in the page as JSON. Markup that does
 * not match makes Svelte warn (`hydration_mismatch`), then replace it: the page flashes but works.
 *
 * @example
 * ```ts
 * // dashboard-island.ts, loaded by the page's <script type="module">
 * import Dashboard from './components/Dashboard.svelte';
 * hydrateIsland('dashboard', Dashboard);
 * ```
 */
export function hydrateIsland<Props extends Record<string, unknown>>(
	id: string,
	component: Component<Props>
): void {
	const target = document.getElementById(id);
	const json = document.getElementById(propsElementId(id))?.textContent;
	if (!target || json == undefined)
		throw new Error(`No server-rendered island "${id}" on this page`);
	hydrate(component, { target, props: JSON.parse(json) as Props });
}
