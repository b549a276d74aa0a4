import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where the README's links into the repository point: GitHub pages and raw files of `main`. */
export const REPOSITORY_FILES = [
	'https://github.com/runesocket/runesocket/blob/main/',
	'https://raw.githubusercontent.com/runesocket/runesocket/main/'
];

/** Markdown without its fenced code blocks (indented ones in lists too). */
function withoutFences(markdown: string): string {
	return markdown.replace(/^([ \t]*)```[^\n]*\n[\s\S]*?\n\1```[ \t]*$/gm, '');
}

/** Markdown without its code: code blocks and inline code hold text that only looks like links. */
function withoutCode(markdown: string): string {
	return withoutFences(markdown).replace(/`[^`\n]*`/g, '');
}

/**
 * The targets of a document's links and images: `[text](target)`, `![alt](target)`, `<https://…>`
 * and `[label]: target`, outside code.
 *
 * @example
 * ```ts
 * linkTargets('See [the protocol](PROTOCOL.md#frames).'); // ['PROTOCOL.md#frames']
 * ```
 */
export function linkTargets(markdown: string): string[] {
	const text = withoutCode(markdown);
	return [
		...[...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]),
		...[...text.matchAll(/<(https?:\/\/[^>\s]+)>/g)].map((match) => match[1]),
		...[...text.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((match) => match[1])
	];
}

/**
 * The anchors GitHub (and npmjs.com) give a document's headings: lower case, punctuation dropped,
 * spaces as hyphens, `-1`, `-2` … on repeats.
 *
 * @example
 * ```ts
 * headingAnchors('## Recovery: no message lost'); // Set { 'recovery-no-message-lost' }
 * ```
 */
export function headingAnchors(markdown: string): Set<string> {
	const anchors = new Set<string>();
	const seen = new Map<string, number>();
	// Inline code stays: its text is part of the anchor, only the backticks go (as punctuation).
	const headings = withoutFences(markdown).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm);
	for (const [, heading] of headings) {
		const slug = heading
			.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
			.toLowerCase()
			.replace(/[^\p{L}\p{N}\s_-]/gu, '')
			.replace(/\s/g, '-');
		const repeats = seen.get(slug) ?? 0;
		seen.set(slug, repeats + 1);
		anchors.add(repeats ? `${slug}-${repeats}` : slug);
	}
	return anchors;
}

/**
 * What is wrong with a document's links as npmjs.com shows it: a relative link resolves against
 * npmjs.com there and breaks, so every link must be absolute (https) or an anchor of the document
 * itself; links into this repository must name a file that exists, and a heading of it that exists.
 * Returns one line per broken link.
 *
 * @example
 * ```ts
 * linkProblems('[x](PROTOCOL.md)', root); // ['PROTOCOL.md: relative, breaks on npmjs.com']
 * ```
 */
export function linkProblems(markdown: string, root: string): string[] {
	const problems: string[] = [];
	const ownAnchors = headingAnchors(markdown);
	for (const target of linkTargets(markdown)) {
		const [address, anchor] = target.split('#', 2) as [string, string | undefined];
		if (!address) {
			if (!ownAnchors.has(anchor ?? '')) problems.push(`${target}: no such heading here`);
			continue;
		}
		if (!address.startsWith('https://')) {
			problems.push(`${target}: relative, breaks on npmjs.com`);
			continue;
		}
		const base = REPOSITORY_FILES.find((prefix) => address.startsWith(prefix));
		if (!base) continue;
		const file = join(root, decodeURIComponent(address.slice(base.length)));
		if (!existsSync(file)) {
			problems.push(`${target}: no such file in the repository`);
		} else if (anchor !== undefined && !headingAnchors(readFileSync(file, 'utf8')).has(anchor)) {
			problems.push(`${target}: no such heading in ${address.slice(base.length)}`);
		}
	}
	return problems;
}
