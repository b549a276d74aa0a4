import ts from 'typescript';

/**
 * Every name an entry file exports, types included, as the TypeScript compiler resolves it: the
 * runtime `Object.keys` of a module cannot see types, and a type an entry exports is public API too.
 */
export function exportedNames(entry: string): string[] {
	const program = ts.createProgram([entry], {
		module: ts.ModuleKind.ESNext,
		moduleResolution: ts.ModuleResolutionKind.Bundler,
		target: ts.ScriptTarget.ES2022,
		noEmit: true
	});
	const checker = program.getTypeChecker();
	const source = program.getSourceFile(entry);
	const module = source && checker.getSymbolAtLocation(source);
	if (!module) throw new Error(`${entry}: not a module`);
	return checker
		.getExportsOfModule(module)
		.map((symbol) => symbol.name)
		.sort();
}
