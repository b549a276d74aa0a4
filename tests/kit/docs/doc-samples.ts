import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';

/** The languages of code samples the check compiles; other fences (sh, json, plain) are text. */
const COMPILED = { ts: 'ts', js: 'js', svelte: 'svelte' } as const;
type SampleLanguage = keyof typeof COMPILED;

/** Written right before a fence, this marks a sample that is deliberately not whole code. */
export const FRAGMENT_MARK = '<!-- sample: fragment -->';

/** One fenced code sample of a Markdown document. */
export interface DocSample {
	/** The document's name, e.g. `README.md`. */
	readonly doc: string;
	/** The 1-based line of the opening fence. */
	readonly line: number;
	readonly language: SampleLanguage;
	/** The code, without the fence's indentation. */
	readonly code: string;
	/** Marked with `FRAGMENT_MARK`: left out of the check. */
	readonly fragment: boolean;
}

/** A problem the check found in a sample, at its place in the document. */
export interface SampleProblem {
	/** `README.md:123`: the document and line the problem is on. */
	readonly where: string;
	/** `TS2304`, `svelte(state_referenced_locally)`, … */
	readonly code: string;
	readonly message: string;
}

const FENCE = /^(\s*)```(\S*)\s*$/;

/**
 * Every ```ts, ```js and ```svelte sample of a Markdown document, also those indented inside list
 * items.
 *
 * @example
 * ```ts
 * const samples = extractSamples(readFileSync('README.md', 'utf8'), 'README.md');
 * ```
 */
export function extractSamples(markdown: string, doc: string): DocSample[] {
	const lines = markdown.split('\n');
	const samples: DocSample[] = [];
	for (let index = 0; index < lines.length; index++) {
		const opening = FENCE.exec(lines[index]);
		if (!opening) continue;
		const [, indent, language] = opening;
		const closing = lines.findIndex(
			(line, at) => at > index && line.trimEnd() == `${indent}\`\`\``
		);
		if (closing < 0) throw new Error(`${doc}:${index + 1}: a fence that never closes`);
		if (language in COMPILED) {
			const previous = lines.slice(0, index).findLast((line) => line.trim() != '');
			samples.push({
				doc,
				line: index + 1,
				language: language as SampleLanguage,
				code: lines
					.slice(index + 1, closing)
					.map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line))
					.join('\n'),
				fragment: previous?.trim() == FRAGMENT_MARK
			});
		}
		index = closing;
	}
	return samples;
}

/** Where a sample is written in the check's directory: `README.md` line 30 → `readme-md-30.ts`. */
function sampleFile(sample: DocSample): string {
	const name = basename(sample.doc).replace(/\W/g, '-').toLowerCase();
	return `${name}-${sample.line}.${COMPILED[sample.language]}`;
}

/** What `checkSamples` needs besides the samples. */
export interface CheckSetup {
	/** The project: its tsconfig.json is extended, its svelte-check is run. */
	readonly root: string;
	/** A fresh directory inside the project, so `zod`, `ws` and the project's types resolve. */
	readonly directory: string;
	/** Module specifier → the directory's file it maps to (e.g. `$lib/*` → `lib/*`). */
	readonly paths: Readonly<Record<string, readonly string[]>>;
	/** Files the samples lean on (the app around them), path in the directory → content. */
	readonly context: Readonly<Record<string, string>>;
}

/**
 * Compiles samples the way the project's own check does: written into `directory` beside the
 * `context` files, under a tsconfig that extends the project's (strict). TypeScript and JavaScript
 * samples go through one TypeScript program in this process (as `tsc --noEmit` would); Svelte
 * samples through svelte-check with `--fail-on-warnings` (the Svelte compiler's warnings and
 * TypeScript), in a child process meanwhile. Each sample is a module of its own. Fragments are left
 * out. Returns every problem at its document line.
 *
 * @example
 * ```ts
 * const problems = await checkSamples(samples, setup);
 * expect(problems).toEqual([]);
 * ```
 */
export async function checkSamples(
	samples: readonly DocSample[],
	setup: CheckSetup
): Promise<SampleProblem[]> {
	const { directory } = setup;
	const bySampleFile = new Map<string, DocSample>();
	const files: Record<string, string> = { ...setup.context };
	for (const sample of samples.filter((sample) => !sample.fragment)) {
		const file = sampleFile(sample);
		// `export {}` makes every script sample a module: its names stay its own, and it may await.
		files[file] = sample.language == 'svelte' ? sample.code : `${sample.code}\nexport {};\n`;
		bySampleFile.set(join(directory, file), sample);
	}
	const contextFiles = Object.keys(setup.context).filter((file) => /\.[jt]s$/.test(file));
	files['tsconfig.json'] = JSON.stringify({
		extends: relative(directory, join(setup.root, 'tsconfig.json')),
		compilerOptions: { paths: setup.paths },
		// What svelte-check diagnoses: the Svelte samples and the global declarations they rely on.
		include: ['**/*.svelte', ...contextFiles.filter((file) => file.endsWith('.d.ts'))]
	});
	for (const [file, content] of Object.entries(files)) {
		await mkdir(dirname(join(directory, file)), { recursive: true });
		await writeFile(join(directory, file), content);
	}

	const scripts = [...bySampleFile].filter(([, sample]) => sample.language != 'svelte');
	const hasSvelte = scripts.length < bySampleFile.size;
	const checked = hasSvelte ? runSvelteCheck(setup.root, directory) : Promise.resolve([]);
	// Compiled while svelte-check runs: the two share nothing but the disk.
	let compiled: FileProblem[];
	try {
		compiled = compileScripts(
			join(directory, 'tsconfig.json'),
			scripts.map(([file]) => file),
			contextFiles.map((file) => join(directory, file))
		);
	} catch (error) {
		// Not left running (or rejecting unheard) behind the harness's own error.
		await checked.catch(() => {});
		throw error;
	}
	const problems: SampleProblem[] = [];
	for (const { file, line, code, message } of [...compiled, ...(await checked)]) {
		const sample = bySampleFile.get(file);
		// A problem outside the samples is one of the harness (its context), not of a document.
		if (!sample) throw new Error(`${relative(directory, file)}:${line + 1}: ${code} ${message}`);
		// Line 0 of the file is the line after the opening fence.
		problems.push({ where: `${sample.doc}:${sample.line + 1 + line}`, code, message });
	}
	return problems;
}

/** A diagnostic in a written file, on its 0-based `line`. */
interface FileProblem {
	readonly file: string;
	readonly line: number;
	readonly code: string;
	readonly message: string;
}

/**
 * TypeScript's diagnostics of the samples and the context they compile with, under the options of
 * `tsconfig` (as `tsc --noEmit` would give them).
 */
function compileScripts(tsconfig: string, samples: string[], context: string[]): FileProblem[] {
	if (!samples.length) return [];
	const config = ts.getParsedCommandLineOfConfigFile(tsconfig, undefined, {
		...ts.sys,
		onUnRecoverableConfigFileDiagnostic: (diagnostic) => {
			throw new Error(ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n'));
		}
	});
	if (!config) throw new Error(`${tsconfig}: not a tsconfig`);
	// E.g. .svelte-kit/tsconfig.json missing before `svelte-kit sync`: the samples would fail for that.
	if (config.errors.length) {
		const reasons = config.errors.map((error) =>
			ts.flattenDiagnosticMessageText(error.messageText, ' ')
		);
		throw new Error(`${tsconfig}: ${reasons.join('; ')}`);
	}
	const program = ts.createProgram([...samples, ...context], { ...config.options, noEmit: true });
	const diagnostics = [
		...program.getOptionsDiagnostics(),
		...program.getGlobalDiagnostics(),
		...[...samples, ...context].flatMap((file) => {
			const source = program.getSourceFile(file);
			return [
				...program.getSyntacticDiagnostics(source),
				...program.getSemanticDiagnostics(source)
			];
		})
	];
	return diagnostics.map((diagnostic) => ({
		file: diagnostic.file?.fileName ?? tsconfig,
		line:
			diagnostic.file && diagnostic.start !== undefined
				? diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line
				: 0,
		code: `TS${diagnostic.code}`,
		message: ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
	}));
}

/** One line of svelte-check's `machine-verbose` output. */
interface CheckDiagnostic {
	type: 'ERROR' | 'WARNING';
	/** Relative to the workspace. */
	filename: string;
	start: { line: number; character: number };
	message: string;
	code?: string | number;
	source?: string;
}

/** svelte-check's diagnostics, warnings too, of what `directory`'s tsconfig.json includes. */
async function runSvelteCheck(root: string, directory: string): Promise<FileProblem[]> {
	const args = [
		join(root, 'node_modules/svelte-check/bin/svelte-check'),
		'--workspace',
		directory,
		'--tsconfig',
		join(directory, 'tsconfig.json'),
		'--output',
		'machine-verbose',
		'--fail-on-warnings'
	];
	let stdout: string;
	try {
		({ stdout } = await promisify(execFile)(process.execPath, args, { cwd: root }));
	} catch (error) {
		// It exits 1 when it found something; its report is on stdout all the same.
		const failed = error as { stdout?: string };
		if (!failed.stdout?.includes(' COMPLETED ')) throw error;
		stdout = failed.stdout;
	}
	return stdout
		.split('\n')
		.map((line) => /^\d+ (\{.*\})$/.exec(line)?.[1])
		.filter((json): json is string => json !== undefined)
		.map((json) => JSON.parse(json) as CheckDiagnostic)
		.map((diagnostic) => ({
			file: join(directory, diagnostic.filename),
			line: diagnostic.start.line,
			// Named as compileScripts names TypeScript's, so both report a problem alike.
			code:
				typeof diagnostic.code == 'number'
					? `TS${diagnostic.code}`
					: `${diagnostic.source ?? diagnostic.type}(${diagnostic.code})`,
			message: diagnostic.message
		}));
}
