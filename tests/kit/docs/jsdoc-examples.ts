import ts from 'typescript';
import type { DocSample } from './doc-samples.js';

/** One public entry of the package: its module specifier and its source file. */
export interface PackageEntry {
	/** `runesocket/server` */
	readonly specifier: string;
	/** Absolute path of the entry's source, e.g. `…/src/lib/server/index.ts`. */
	readonly file: string;
}

/** A declaration that carries an `@example`, and whether an entry exports it. */
export interface ExampleSite {
	/** `src/lib/server/connection.ts:120`, relative to the root given. */
	readonly where: string;
	/** The declaration's name, `Connection.joinRoom` for a member. */
	readonly name: string;
	readonly exported: boolean;
}

/** Where an exported name comes from, and whether it is only a type. */
export interface ExportedName {
	readonly specifier: string;
	readonly typeOnly: boolean;
}

/** What `jsdocExamples` finds in the library. */
export interface JsdocExamples {
	/** The ```ts code of every `@example` on an exported symbol or one of its members. */
	readonly samples: DocSample[];
	/** Every declaration with an `@example`, exported or not. */
	readonly sites: ExampleSite[];
	/** Exported name → the entry it is imported from (the first entry that exports it). */
	readonly entryOf: ReadonlyMap<string, ExportedName>;
}

const FENCED = /```(ts|js)?\n([\s\S]*?)```/g;

/**
 * The `@example` blocks of the library, read through the TypeScript program of its entries: those
 * on symbols an entry exports (and on their members) become samples to compile, each with imports
 * of the library names it uses added; every other `@example` is reported as a site, so a test can
 * keep examples on the public face only.
 *
 * @example
 * ```ts
 * const { samples, sites } = jsdocExamples(entries, root);
 * ```
 */
export function jsdocExamples(
	entries: readonly PackageEntry[],
	projectRoot: string
): JsdocExamples {
	const root = projectRoot.replace(/\/+$/, '');
	const program = ts.createProgram(
		entries.map((entry) => entry.file),
		{ allowJs: true, strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext }
	);
	const checker = program.getTypeChecker();
	const entryOf = new Map<string, ExportedName>();
	const exportedDeclarations = new Set<ts.Node>();
	for (const entry of entries) {
		const source = program.getSourceFile(entry.file);
		const moduleSymbol = source && checker.getSymbolAtLocation(source);
		if (!moduleSymbol) throw new Error(`No module at ${entry.file}`);
		for (const exported of checker.getExportsOfModule(moduleSymbol)) {
			const symbol =
				exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
			if (!entryOf.has(exported.name)) {
				const typeOnly = (symbol.flags & ts.SymbolFlags.Value) == 0;
				entryOf.set(exported.name, { specifier: entry.specifier, typeOnly });
			}
			for (const declaration of symbol.declarations ?? []) exportedDeclarations.add(declaration);
		}
	}
	const samples: DocSample[] = [];
	const sites: ExampleSite[] = [];
	for (const source of program.getSourceFiles()) {
		if (!source.fileName.startsWith(`${root}/src/lib/`)) continue;
		const doc = source.fileName.slice(root.length + 1);
		const visit = (node: ts.Node, owner: string | undefined, ownerExported: boolean) => {
			const name = declarationName(node);
			const exported =
				exportedDeclarations.has(node) ||
				(ts.isVariableStatement(node) &&
					node.declarationList.declarations.some((declaration) =>
						exportedDeclarations.has(declaration)
					)) ||
				(ownerExported && isMember(node));
			for (const example of examplesOf(node)) {
				const line = source.getLineAndCharacterOfPosition(example.pos).line + 1;
				const fullName = owner && isMember(node) ? `${owner}.${name}` : (name ?? '(anonymous)');
				sites.push({ where: `${doc}:${line}`, name: fullName, exported });
				if (!exported) continue;
				for (const code of example.code) {
					samples.push({ doc, line, language: 'ts', code, fragment: false });
				}
			}
			ts.forEachChild(node, (child) =>
				visit(child, name && !isMember(node) ? name : owner, exported || ownerExported)
			);
		};
		ts.forEachChild(source, (child) => visit(child, undefined, false));
	}
	return { samples: samples.map((sample) => withImports(sample, entryOf)), sites, entryOf };
}

function isMember(node: ts.Node): boolean {
	return (
		ts.isMethodDeclaration(node) ||
		ts.isPropertyDeclaration(node) ||
		ts.isGetAccessorDeclaration(node) ||
		ts.isSetAccessorDeclaration(node) ||
		ts.isConstructorDeclaration(node) ||
		ts.isMethodSignature(node) ||
		ts.isPropertySignature(node) ||
		ts.isPropertyAssignment(node)
	);
}

function declarationName(node: ts.Node): string | undefined {
	if (ts.isConstructorDeclaration(node)) return 'constructor';
	if (ts.isVariableStatement(node)) return declarationName(node.declarationList.declarations[0]);
	const name = (node as { name?: ts.Node }).name;
	return name && (ts.isIdentifier(name) || ts.isPrivateIdentifier(name)) ? name.text : undefined;
}

/** The `@example` tags written directly on `node`, with the code of their fences. */
function examplesOf(node: ts.Node): { pos: number; code: string[] }[] {
	const tags = ts
		.getJSDocTags(node)
		.filter((tag) => tag.tagName.text == 'example' && tag.parent.parent === node);
	return tags.map((tag) => {
		const text = ts.getTextOfJSDocComment(tag.comment) ?? '';
		return { pos: tag.pos, code: [...text.matchAll(FENCED)].map((match) => match[2]) };
	});
}

/** `sample` with an import of every library name it uses and does not declare itself. */
function withImports(sample: DocSample, entryOf: ReadonlyMap<string, ExportedName>): DocSample {
	const declared = new Set(
		[
			...sample.code.matchAll(/\b(?:const|let|var|class|function|interface|type|import)\s+(\w+)/g)
		].map((match) => match[1])
	);
	for (const match of sample.code.matchAll(/import\s*(?:type\s*)?\{([^}]*)\}/g)) {
		for (const name of match[1].split(',')) declared.add(name.replace(/^\s*type\s+/, '').trim());
	}
	const bySpecifier = new Map<string, string[]>();
	for (const [name, { specifier, typeOnly }] of entryOf) {
		if (declared.has(name) || !new RegExp(`\\b${name}\\b`).test(sample.code)) continue;
		const imported = typeOnly ? `type ${name}` : name;
		bySpecifier.set(specifier, [...(bySpecifier.get(specifier) ?? []), imported]);
	}
	const imports = [...bySpecifier].map(
		([specifier, names]) => `import { ${names.join(', ')} } from '${specifier}';`
	);
	// The imports take one line, so the sample's own lines keep their numbers: line 0 of the code
	// is reported as the tag's line + 1.
	return { ...sample, line: sample.line - 1, code: `${imports.join(' ')}\n${sample.code}` };
}
