import fs from 'node:fs';
import path from 'node:path';

// Finds import cycles between the project's own files, type-only imports included: a cycle of types
// still means two files that cannot be read, moved or tested apart. Relative specifiers only; `.js`
// resolves to the `.ts` (or `.svelte.ts`) source beside it, as TypeScript does.

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"](\.{1,2}\/[^'"]+)['"]/g;
const importsCache = new Map();

function resolve(fromFile, specifier) {
	const base = path.resolve(path.dirname(fromFile), specifier);
	const candidates = [base, base.replace(/\.js$/, '.ts'), `${base}.ts`, `${base}/index.ts`];
	return candidates.find((file) => fs.existsSync(file) && fs.statSync(file).isFile());
}

function importsOf(file) {
	let imports = importsCache.get(file);
	if (imports) return imports;
	const text = /\.(ts|js)$/.test(file) ? fs.readFileSync(file, 'utf8') : '';
	imports = [];
	for (const match of text.matchAll(SPECIFIER)) {
		const target = resolve(file, match[1]);
		if (target) imports.push(target);
	}
	importsCache.set(file, imports);
	return imports;
}

/** The chain of files from `start` back to itself, or undefined when there is none. */
function cycleFrom(start) {
	const seen = new Set();
	const walk = (file, chain) => {
		for (const next of importsOf(file)) {
			if (next == start) return [...chain, next];
			if (seen.has(next)) continue;
			seen.add(next);
			const found = walk(next, [...chain, next]);
			if (found) return found;
		}
		return undefined;
	};
	return walk(start, [start]);
}

export default {
	rules: {
		'no-import-cycle': {
			meta: {
				type: 'problem',
				docs: { description: 'Files import one another in one direction only.' },
				schema: []
			},
			create(context) {
				return {
					Program(node) {
						// Each lint run sees the files as they are now.
						importsCache.clear();
						const cycle = cycleFrom(context.filename);
						if (!cycle) return;
						const names = cycle.map((file) => path.relative(process.cwd(), file));
						context.report({ node, message: `Import cycle: ${names.join(' → ')}` });
					}
				};
			}
		}
	}
};
