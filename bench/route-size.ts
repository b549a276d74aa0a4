// The JavaScript the signed-in dashboard makes a browser load, gzip -9, and what is in it.
// Run: `npx tsx bench/route-size.ts [--route /] [--project DIR] [--ref COMMIT]` (about 30 s: one
// `vite build` of a copy of the working tree, of DIR (a variant of the project, e.g. with another
// svelte.config.js), or of a commit, built with the working tree's node_modules).
//
// The build runs in a temporary copy (src, static and the configs, with node_modules linked), so a
// build someone else starts in the working tree meanwhile can neither change nor break this one.
// The files counted are the ones the page itself loads: the built app is started, a demo user signs
// in, and every script and modulepreload of the route's page (its HTML and its Link header; with
// SvelteKit's client also the modules its inline start-up script imports) is fetched, then every
// module those import statically, transitively. Dynamic imports are left out: they load on demand (another route, an error page).
// What each file holds comes from the bundler's own record of every chunk's modules: for SvelteKit's
// client chunks, captured by a plugin that a wrapper config adds to the project's vite.config.ts; for
// an island (src/island/vite.ts), the islands manifest the server build writes.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import { parseAst } from 'vite';
import { copySources } from './sources.js';
import { freePort } from './throughput/redis-server.js';

const { values: options } = parseArgs({
	options: {
		route: { type: 'string', default: '/' },
		project: { type: 'string' },
		ref: { type: 'string' }
	}
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
/** Written by src/island/vite.ts in the server build: each island's file and its modules. */
const ISLANDS_FILE = '.svelte-kit/output/server/.vite/islands.json';
const ROUTE = options.route;
const MODULES_LISTED = 25;
const SERVER_START_TIMEOUT_MS = 30_000;

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

/**
 * Copies the project (or commit `--ref`) to a temporary directory and builds it there; returns the
 * directory and what was built.
 */
function buildCopy(): { work: string; source: string } {
	const work = mkdtempSync(join(tmpdir(), 'runesocket-route-size-'));
	let source: string;
	try {
		source = copySources(repo, work, COPIED, options.ref);
	} catch (error) {
		rmSync(work, { recursive: true, force: true });
		throw error;
	}
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
	return { work, source };
}

/** The built app (adapter-node's build/index.js) on a free port; resolves once it listens. */
async function startApp(work: string): Promise<{ origin: string; app: ChildProcess }> {
	const port = await freePort();
	const origin = `http://127.0.0.1:${port}`;
	const app = spawn(process.execPath, ['build/index.js'], {
		cwd: work,
		env: {
			...process.env,
			NODE_ENV: 'production',
			PORT: String(port),
			HOST: '127.0.0.1',
			ORIGIN: origin,
			DEMO_SECRET: `route-size-bench-${randomUUID()}`,
			REDIS_URL: ''
		},
		stdio: ['ignore', 'pipe', 'pipe']
	});
	let output = '';
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(
			() =>
				reject(
					new Error(`The app did not listen within ${SERVER_START_TIMEOUT_MS} ms:\n${output}`)
				),
			SERVER_START_TIMEOUT_MS
		);
		const read = (chunk: Buffer) => {
			output += chunk.toString();
			if (output.includes('Listening on')) {
				clearTimeout(timer);
				resolve();
			}
		};
		app.stdout.on('data', read);
		app.stderr.on('data', read);
		app.once('exit', (code) => {
			clearTimeout(timer);
			reject(new Error(`The app exited with ${code}:\n${output}`));
		});
	});
	return { origin, app };
}

/** The route as a signed-in demo user gets it (the dashboard, not the sign-in page). */
async function signedInPage(origin: string, route: string): Promise<Response> {
	const signIn = await fetch(`${origin}/?/signin`, {
		method: 'POST',
		headers: {
			accept: 'text/html',
			origin,
			'content-type': 'application/x-www-form-urlencoded'
		},
		body: new URLSearchParams({ name: 'Bench', team: `bench-${randomUUID().slice(0, 8)}` }),
		redirect: 'manual'
	});
	const session = signIn.headers.getSetCookie().map((cookie) => cookie.split(';')[0]);
	if (session.length == 0) throw new Error(`Sign-in answered ${signIn.status} without a cookie`);
	const page = await fetch(new URL(route, origin), { headers: { cookie: session.join('; ') } });
	if (!page.ok) throw new Error(`${route} answered ${page.status}`);
	return page;
}

/** Whether a `<link>` tag's or a Link header entry's parameters preload a script. */
function preloadsScript(parameters: string): boolean {
	return (
		/\brel="?modulepreload"?/.test(parameters) ||
		(/\brel="?preload"?/.test(parameters) && /\bas="?script"?/.test(parameters))
	);
}

/**
 * The JS URLs the page loads or preloads: module scripts, modulepreloads (SvelteKit sends those of
 * a server-rendered page in its Link header), and the modules inline scripts `import(...)`.
 */
function pageScripts(html: string, linkHeader: string, pageUrl: URL): URL[] {
	const urls: string[] = [];
	for (const [, url, parameters] of linkHeader.matchAll(/<([^>]+)>([^,]*)/g)) {
		if (preloadsScript(parameters)) urls.push(url);
	}
	for (const [tag] of html.matchAll(/<(?:script|link)\b[^>]*>/g)) {
		const src = /\ssrc="([^"]+)"/.exec(tag)?.[1];
		if (tag.startsWith('<script') && src) urls.push(src);
		const preloadsScript =
			/\srel="modulepreload"/.test(tag) ||
			(/\srel="preload"/.test(tag) && /\sas="script"/.test(tag));
		const href = /\shref="([^"]+)"/.exec(tag)?.[1];
		if (tag.startsWith('<link') && preloadsScript && href) urls.push(href);
	}
	for (const [, body] of html.matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/g)) {
		for (const [, url] of body.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) urls.push(url);
	}
	return urls.map((url) => new URL(url, pageUrl));
}

/** The modules `code` imports statically (import and export ... from), as URLs. */
function staticImports(code: string, fileUrl: URL): URL[] {
	return parseAst(code).body.flatMap((node) =>
		(node.type == 'ImportDeclaration' ||
			node.type == 'ExportAllDeclaration' ||
			node.type == 'ExportNamedDeclaration') &&
		node.source
			? [new URL(String(node.source.value), fileUrl)]
			: []
	);
}

/** Every JS file the route's HTML loads, with what the server sent for it, in load order. */
async function routeFiles(origin: string, route: string): Promise<Map<string, Buffer>> {
	const pageUrl = new URL(route, origin);
	const page = await signedInPage(origin, route);
	const queue = pageScripts(await page.text(), page.headers.get('link') ?? '', pageUrl);
	const files = new Map<string, Buffer>();
	while (queue.length > 0) {
		const url = queue.shift()!;
		// Same-origin files only: the bench counts what this app ships.
		if (url.origin != pageUrl.origin || files.has(url.pathname)) continue;
		const response = await fetch(url);
		if (!response.ok) throw new Error(`${url} answered ${response.status}`);
		const code = Buffer.from(await response.arrayBuffer());
		files.set(url.pathname, code);
		queue.push(...staticImports(code.toString('utf8'), url));
	}
	return files;
}

/** What each client file holds: SvelteKit's chunks, and the islands' files, by path from the root. */
function allChunkModules(work: string): ChunkModules {
	const chunks = JSON.parse(readFileSync(join(work, MODULES_FILE), 'utf8')) as ChunkModules;
	const islandsFile = join(work, ISLANDS_FILE);
	if (existsSync(islandsFile)) {
		const islands = JSON.parse(readFileSync(islandsFile, 'utf8')) as Record<
			string,
			{ file: string; modules: Record<string, number> }
		>;
		for (const { file, modules } of Object.values(islands)) chunks[file] = modules;
	}
	return chunks;
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
	const local = /\/src\/(lib\/[^/]+|demo|routes|island)\//.exec(id);
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

function measure(files: Map<string, Buffer>, chunkModules: ChunkModules): FileSize[] {
	return [...files].map(([path, code]) => {
		const file = path.replace(/^\//, '');
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

function report(
	{ work, source }: { work: string; source: string },
	route: string,
	sizes: FileSize[],
	chunkModules: ChunkModules
): void {
	const total = sizes.reduce((sum, size) => sum + size.gzipped, 0);
	const minified = sizes.reduce((sum, size) => sum + size.minified, 0);
	console.log(
		`Route ${route} of ${source}: ${sizes.length} JS files, ${total.toLocaleString('en')} bytes gzip -9`
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
	const shares = ownerShares(sizes);
	for (const [name, share] of shares.slice(0, 15)) {
		console.log(
			`| ${name} | ${Math.round(share).toLocaleString('en')} | ${((100 * share) / total).toFixed(1)}% |`
		);
	}
	// Summed here so that a text quoting "Svelte's runtime" quotes this run, not a sum made by hand.
	const svelte = shares
		.filter(([name]) => name.startsWith('svelte/'))
		.reduce((sum, [, share]) => sum + share, 0);
	console.log(
		`\nSvelte's runtime (every svelte/* part): ≈ ${Math.round(svelte).toLocaleString('en')} bytes gzip, ${((100 * svelte) / total).toFixed(1)}%`
	);
	console.log('\n| biggest modules | in | rendered bytes |');
	console.log('|---|---|---|');
	for (const line of biggestModules(work, sizes, chunkModules, MODULES_LISTED)) console.log(line);
}

const built = buildCopy();
const { work } = built;
let app: ChildProcess | undefined;
try {
	const started = await startApp(work);
	app = started.app;
	const files = await routeFiles(started.origin, ROUTE);
	const chunkModules = allChunkModules(work);
	report(built, ROUTE, measure(files, chunkModules), chunkModules);
} finally {
	app?.kill('SIGKILL');
	rmSync(work, { recursive: true, force: true });
}
