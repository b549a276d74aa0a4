import type { ActionResult } from '@sveltejs/kit';

/** What a submit callback learns before the form goes out; `cancel()` keeps it from going. */
export interface SubmitStart {
	formElement: HTMLFormElement;
	formData: FormData;
	action: URL;
	submitter: HTMLElement | null;
	cancel(): void;
}

/** What the after-submit callback gets: the action's result, and `update` for the default handling. */
export interface SubmitEnd {
	formElement: HTMLFormElement;
	formData: FormData;
	action: URL;
	result: ActionResult;
	/**
	 * The default handling: a success resets the form (unless `reset: false`), a redirect navigates.
	 * A failure or an error is left to the callback; nothing else would show it on this page.
	 */
	update(options?: { reset?: boolean }): Promise<void>;
}

/** Called as the form is submitted; may return the callback that handles the result. */
export type SubmitCallback = (
	start: SubmitStart
) =>
	| void
	| ((end: SubmitEnd) => void | Promise<void>)
	| Promise<void | ((end: SubmitEnd) => void | Promise<void>)>;

/**
 * Sends a form action with `fetch` instead of loading a new page, the way SvelteKit's `enhance`
 * does, for pages without SvelteKit's client (`csr = false`). It posts to the form's action with
 * the headers that make SvelteKit answer with the action's result as JSON (`{ type, status, data }`)
 * and hands that result to the callback. A network failure, or an answer that is not an action
 * result, comes back as `{ type: 'error' }`. Without JavaScript the form still posts as usual.
 *
 * @example
 * ```svelte
 * <form method="POST" action="?/create" use:enhance={() => async ({ result, update }) => {
 *   if (result.type == 'failure') problem = String(result.data?.message);
 *   else await update();
 * }}>
 * ```
 */
export function enhance(form: HTMLFormElement, callback: SubmitCallback = () => {}) {
	async function submit(event: SubmitEvent) {
		const submitter = event.submitter;
		const method = submitter?.getAttribute('formmethod') ?? form.getAttribute('method') ?? 'get';
		if (method.toLowerCase() != 'post') return;
		event.preventDefault();

		// Attributes rather than form.action and form.enctype, which a field named "action" hides.
		const action = new URL(
			submitter?.getAttribute('formaction') ?? form.getAttribute('action') ?? '',
			document.baseURI
		);
		const enctype = submitter?.getAttribute('formenctype') ?? form.getAttribute('enctype');
		const formData = new FormData(form, submitter);
		let cancelled = false;
		const handle = await callback({
			formElement: form,
			formData,
			action,
			submitter,
			cancel: () => (cancelled = true)
		});
		if (cancelled) return;

		const result = await post(action, formData, enctype == 'multipart/form-data');
		const update = async ({ reset = true } = {}) => {
			if (result.type == 'success' && reset) form.reset();
			else if (result.type == 'redirect') location.assign(result.location);
		};
		await (handle ?? update)({ formElement: form, formData, action, result, update });
	}

	form.addEventListener('submit', submit);
	return { destroy: () => form.removeEventListener('submit', submit) };
}

async function post(action: URL, formData: FormData, multipart: boolean): Promise<ActionResult> {
	try {
		const response = await fetch(action, {
			method: 'POST',
			headers: { accept: 'application/json', 'x-sveltekit-action': 'true' },
			cache: 'no-store',
			body: multipart ? formData : urlEncoded(formData)
		});
		const result = JSON.parse(await response.text()) as ActionResult;
		if ('data' in result && typeof result.data == 'string') result.data = flatData(result.data);
		if (result.type == 'error') result.status = response.status;
		return result;
	} catch (error) {
		// Offline, the server down, or something other than SvelteKit answered (a proxy's error page).
		return { type: 'error', error };
	}
}

/**
 * The top level of an action's data, from the devalue text SvelteKit sends it as: a JSON array
 * whose first item is the root and whose fields name the index of their value. This page's actions
 * answer with flat data (`{ create: 'A title of 1 to 120 characters.' }`), so plain values are
 * read and anything nested is left out; devalue's full parser would add about 1.1 KB gzip to the
 * page for nothing (issue 12, route JS).
 */
export function flatData(serialized: string): Record<string, unknown> {
	const values: unknown = JSON.parse(serialized);
	const root = Array.isArray(values) ? values[0] : undefined;
	if (typeof root != 'object' || root === null || Array.isArray(root)) return {};
	const plain: [string, unknown][] = [];
	for (const [field, index] of Object.entries(root)) {
		const value: unknown = typeof index == 'number' ? (values as unknown[])[index] : undefined;
		if (value === null || ['string', 'number', 'boolean'].includes(typeof value))
			plain.push([field, value]);
	}
	// fromEntries defines own fields: assigning a field named __proto__ would set the prototype.
	return Object.fromEntries(plain);
}

function urlEncoded(formData: FormData): URLSearchParams {
	const fields = new URLSearchParams();
	for (const [name, value] of formData)
		fields.append(name, typeof value == 'string' ? value : value.name);
	return fields;
}
