// @vitest-environment jsdom
import { describe, expect, it } from 'vitest';
import { propsElementId, propsScriptElement, scriptSafeJson } from '../../../src/island/props.js';

// An island's props travel in the page as a <script type="application/json"> element
// (src/island/Island.svelte). A string in them must never end that element early or change how
// the HTML parser reads the rest of the page; jsdom's DOMParser reads it as a browser would.

/** What a browser makes of a page whose body is `html`. */
function parseBody(html: string): Document {
	return new DOMParser().parseFromString(
		`<!doctype html><html><body>${html}<p id="after">after</p></body></html>`,
		'text/html'
	);
}

const HOSTILE = [
	'</script><script>alert(1)</script>',
	'</SCRIPT ><img src=x onerror=alert(1)>',
	'<!--<script>',
	'<script>',
	'-->',
	']]>',
	'\u2028\u2029 line separators',
	'quotes " and \' and & and \\'
];

describe('island props in the page', () => {
	it('come back from the parsed page exactly as they were, whatever their strings hold', () => {
		const props = { titles: HOSTILE, nested: { title: HOSTILE.join('') }, count: 3, none: null };
		const document = parseBody(propsScriptElement('dashboard', props));
		const scripts = document.querySelectorAll('script');
		expect(scripts).toHaveLength(1);
		expect(scripts[0].id).toBe(propsElementId('dashboard'));
		expect(scripts[0].type).toBe('application/json');
		expect(JSON.parse(scripts[0].textContent ?? '')).toEqual(props);
		// Nothing after the element was swallowed into it, and nothing in it became markup.
		expect(document.getElementById('after')?.textContent).toBe('after');
		expect(document.querySelectorAll('img')).toHaveLength(0);
	});

	it('escape every < so no end tag or comment can appear in the element', () => {
		const json = scriptSafeJson({ title: '</script><!--' });
		expect(json).not.toContain('<');
		expect(JSON.parse(json)).toEqual({ title: '</script><!--' });
	});
});
