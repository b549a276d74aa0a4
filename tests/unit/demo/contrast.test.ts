import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

// Every colour pair the dashboard sets text in, in both schemes, meets WCAG AA for normal text
// (4.5:1). Issue 12, defect 6: monitor status text was 4.47:1.

const css = readFileSync(new URL('../../../src/app.css', import.meta.url), 'utf8');

/** The custom properties of one block of app.css: the light root, or the dark scheme's root. */
function palette(block: string): Record<string, string> {
	return Object.fromEntries(
		[...block.matchAll(/--([\w-]+):\s*(#[0-9a-f]{6})\s*;/gi)].map(([, name, value]) => [
			name!,
			value!
		])
	);
}

const darkStart = css.indexOf('@media (prefers-color-scheme: dark)');
const light = palette(css.slice(0, darkStart));
const dark = {
	...light,
	...palette(css.slice(darkStart, css.indexOf('}', css.indexOf('}', darkStart) + 1)))
};

function luminance(hex: string): number {
	const channels = [1, 3, 5].map((at) => parseInt(hex.slice(at, at + 2), 16) / 255);
	const [r, g, b] = channels.map((c) => (c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4));
	return 0.2126 * r! + 0.7152 * g! + 0.0722 * b!;
}

function contrast(foreground: string, background: string): number {
	const [high, low] = [luminance(foreground), luminance(background)].sort((a, b) => b - a);
	return (high! + 0.05) / (low! + 0.05);
}

/** [text colour, background colour] as the components use them. */
const PAIRS = [
	...['text', 'muted', 'up', 'down', 'critical', 'status-degraded-text'].flatMap((text) =>
		['bg', 'surface', 'surface-2'].map((background) => [text, background])
	),
	['status-up-text', 'status-up-bg'],
	['status-degraded-text', 'status-degraded-bg'],
	['status-down-text', 'status-down-bg'],
	['accent-text', 'accent']
];

describe('the dashboard palette', () => {
	for (const [scheme, colours] of Object.entries({ light, dark })) {
		it(`has text at 4.5:1 or more on its backgrounds in the ${scheme} scheme`, () => {
			const failing = PAIRS.flatMap(([text, background]) => {
				const ratio = contrast(colours[text!]!, colours[background!]!);
				return ratio >= 4.5 ? [] : [`--${text} on --${background}: ${ratio.toFixed(2)}:1`];
			});
			expect(failing).toEqual([]);
		});
	}

	it('reads both schemes from app.css', () => {
		expect(Object.keys(light).length).toBeGreaterThan(15);
		expect(dark.bg).not.toBe(light.bg);
	});
});
