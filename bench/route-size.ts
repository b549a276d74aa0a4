// The JavaScript the dashboard's route makes a browser load, gzip -9, and what is in it.
// Run: `npx tsx bench/route-size.ts [--route /] [--project DIR]` (about 20 s: one `vite build` of a
// copy of the working tree, or of DIR: a variant of the project, e.g. with another svelte.config.js).
//
// The build runs in a temporary copy (src, static and the configs, with node_modules linked), so a
// build someone else starts in the working tree meanwhile can neither change nor break this one.
// The files a route loads are the ones SvelteKit itself preloads for it (its `modulepreload` links):
// the server manifest's client entry imports plus the `imports` of the route's layout and page nodes.
// What each file holds comes from the bundler's own record of every chunk's modules, captured by a
// plugin that a wrapper config adds to the project's vite.config.ts.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';

const { values: options } = parseArgs({
	options: { route: { type: 'string', default: '/' }, project: { type: 'string' } }
});
const repo = options.project ?? fileURLToPath(new URL('..', import.meta.url));
const COPIED = [
	'src',
	'static',
	'package.json',
	'svelte.config.js',
	'vite.config.ts',
	'tsconfig.json'
];
const MODULES_FILE = 'chunk-modules.json';
const ROUTE = options.route;
const MODULES_LISTED = 25;

/** How many bytes of each chunk's code each module rendered to, keyed by the chunk's file name. */
type ChunkModules = Record<string, Record<string, number>>;

/**
 * A Vite config that is the project's plus one plugin recording the client chunks' modules. SvelteKit
 * builds the client in a second `vite build` of the same config file, so the plugin runs there too.
 */
const WRAPPER_CONFIG = `
import { mergeConfig } from 'vite';
import { writeFileSync } from 'node:fs';
import project from './vite.config.ts';

const recordChunkModules = {
	name: 'route-size:record-chunk-modules',
	apply: 'build',
	generateBundle(options, bundle) {
		if (!options.dir?.includes('output/client')) return;
		const chunks = {};
		for (const output of Object.values(bundle)) {
			if (output.type != 'chunk') continue;
			chunks[output.fileName] = Object.fromEntries(
				Object.entries(output.modules).map(([id, module]) => [id, module.renderedLength])
			);
		}
		writeFileSync(${JSON.stringify(MODULES_FILE)}, JSON.stringify(chunks));
	}
};

export default mergeConfig(project, { plugins: [recordChunkModules] });
`;

/** Copies the project to a temporary directory and builds it there; returns the directory. */
function buildCopy(): string {
	const work = mkdtempSync(join(tmpdir(), 'runesocket-route-size-'));
	for (const entry of COPIED) cpSync(join(repo, entry), join(work, entry), { recursive: true });
	symlinkSync(join(repo, 'node_modules'), join(work, 'node_modules'), 'dir');
	writeFileSync(join(work, 'route-size.config.ts'), WRAPPER_CONFIG);
	const build = spawnSync('npx', ['vite', 'build', '--config', 'route-size.config.ts'], {
		cwd: work,
		encoding: 'utf8',
		timeout: 180_000
	});
	if (build.status != 0) {
		rmSync(work, { recursive: true, force: true });
		throw new Error(`vite build failed (${build.status}):\n${build.stderr.slice(-3000)}`);
	}
	return work;
}

interface KitManifest {
	_: {
		client: { imports: string[] };
		routes: { id: string; page: { layouts: (number | undefined)[]; leaf: number } | null }[];
	};
}

/** The JS files a browser loads for `route`, as SvelteKit lists them in the page's preload links. */
async function routeFiles(work: string, route: string): Promise<string[]> {
	const server = join(work, '.svelte-kit/output/server');
	const { manifest } = (await import(pathToFileURL(join(server, 'manifest.js')).href)) as {
		manifest: KitManifest;
	};
	const page = manifest._.routes.find((candidate) => candidate.id == route)?.page;
	if (!page) throw new Error(`No page route ${route}`);
	const nodes = [...page.layouts.filter((node) => node !== undefined), page.leaf];
	// Reading the node files as text: importing them would start the demo's server code.
	const nodeImports = nodes.flatMap((node) => {
		const text = readFileSync(join(server, `nodes/${node}.js`), 'utf8');
		const list = /^export const imports = (\[.*\]);$/m.exec(text)?.[1];
		if (!list) throw new Error(`No imports in node ${node}`);
		return JSON.parse(list) as string[];
	});
	return [...new Set([...manifest._.client.imports, ...nodeImports])];
}

/** Which package or part of this project a module id belongs to. */
function owner(id: string): string {
	const inPackage = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(id);
	if (inPackage) {
		const [, name, rest] = inPackage;
		if (name == 'svelte') return `svelte/${rest.split('/').slice(1, 3).join('/')}`;
		if (name == '@sveltejs/kit') return '@sveltejs/kit';
		return name;
	}
	const local = /\/src\/(lib\/[^/]+|demo|routes)\//.exec(id);
	if (local) return `src/${local[1]}`;
	return id.includes('.svelte-kit/generated') ? 'SvelteKit generated' : 'other';
}

interface FileSize {
	file: string;
	minified: number;
	gzipped: number;
	/** The biggest owners in this file, by rendered bytes. */
	owners: [string, number][];
}

function measure(work: string, files: string[], chunkModules: ChunkModules): FileSize[] {
	return files.map((file) => {
		const code = readFileSync(join(work, '.svelte-kit/output/client', file));
		const byOwner = new Map<string, number>();
		for (const [id, length] of Object.entries(chunkModules[file] ?? {})) {
			byOwner.set(owner(id), (byOwner.get(owner(id)) ?? 0) + length);
		}
		return {
			file,
			minified: code.byteLength,
			gzipped: gzipSync(code, { level: 9 }).byteLength,
			owners: [...byOwner].sort((a, b) => b[1] - a[1])
		};
	});
}

/**
 * Each owner's estimated share of the route's gzip bytes: its part of each file's rendered bytes
 * times that file's gzip size. An estimate, since gzip compresses some code better than other code.
 */
function ownerShares(sizes: FileSize[]): [string, number][] {
	const shares = new Map<string, number>();
	for (const { gzipped, owners } of sizes) {
		const rendered = owners.reduce((sum, [, length]) => sum + length, 0);
		for (const [name, length] of owners) {
			shares.set(name, (shares.get(name) ?? 0) + (rendered ? (gzipped * length) / rendered : 0));
		}
	}
	return [...shares].sort((a, b) => b[1] - a[1]);
}

const kb = (bytes: number) => (bytes / 1000).toFixed(1);

/** The route's biggest modules by rendered bytes, each with the file it landed in. */
function biggestModules(
	work: string,
	sizes: FileSize[],
	chunkModules: ChunkModules,
	count: number
): string[] {
	const files = new Set(sizes.map((size) => size.file));
	return Object.entries(chunkModules)
		.filter(([file]) => files.has(file))
		.flatMap(([file, modules]) =>
			Object.entries(modules).map(([id, length]) => ({ file, id, length }))
		)
		.sort((a, b) => b.length - a.length)
		.slice(0, count)
		.map(({ file, id, length }) => {
			const shortId = id
				.replace(/^.*?node_modules\//, '')
				.replace(work, '')
				.replace(/^\/?/, '');
			return `| ${shortId} | ${file.split('/').pop()} | ${length.toLocaleString('en')} |`;
		});
}

function report(work: string, route: string, sizes: FileSize[], chunkModules: ChunkModules): void {
	const total = sizes.reduce((sum, size) => sum + size.gzipped, 0);
	const minified = sizes.reduce((sum, size) => sum + size.minified, 0);
	console.log(
		`Route ${route}: ${sizes.length} JS files, ${total.toLocaleString('en')} bytes gzip -9`
	);
	console.log(`(${kb(total)} KB; ${minified.toLocaleString('en')} bytes minified)\n`);
	console.log('| file | minified | gzip -9 | biggest parts (rendered bytes) |');
	console.log('|---|---|---|---|');
	for (const size of [...sizes].sort((a, b) => b.gzipped - a.gzipped)) {
		const parts = size.owners
			.slice(0, 4)
			.map(([name, length]) => `${name} ${length.toLocaleString('en')}`)
			.join(', ');
		console.log(
			`| ${size.file} | ${size.minified.toLocaleString('en')} | ${size.gzipped.toLocaleString('en')} | ${parts} |`
		);
	}
	console.log(`| **total** | ${minified.toLocaleString('en')} | ${total.toLocaleString('en')} | |`);
	console.log('\n| part | ≈ gzip bytes | share |');
	console.log('|---|---|---|');
	for (const [name, share] of ownerShares(sizes).slice(0, 15)) {
		console.log(
			`| ${name} | ${Math.round(share).toLocaleString('en')} | ${((100 * share) / total).toFixed(1)}% |`
		);
	}
	console.log('\n| biggest modules | in | rendered bytes |');
	console.log('|---|---|---|');
	for (const line of biggestModules(work, sizes, chunkModules, MODULES_LISTED)) console.log(line);
}

const work = buildCopy();
try {
	const files = (await routeFiles(work, ROUTE)).filter((file) => file.endsWith('.js'));
	const chunkModules = JSON.parse(readFileSync(join(work, MODULES_FILE), 'utf8')) as ChunkModules;
	report(work, ROUTE, measure(work, files, chunkModules), chunkModules);
} finally {
	rmSync(work, { recursive: true, force: true });
}
