import { isAbsolute, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { build, normalizePath, type Plugin, type ResolvedConfig, type Rolldown } from 'vite';

const ISLAND_QUERY = /\?island$/;
const ISLAND_COMPONENT = normalizePath(fileURLToPath(new URL('./Island.svelte', import.meta.url)));
const SERVER_RENDER_STUB = '\0runesocket-demo:island-server-render';

/**
 * Where the islands' manifest goes in the server build's output: for each island entry its file
 * (from the site's root) and how many bytes of it each module rendered to, for size reports
 * (bench/route-size.ts).
 */
const ISLANDS_MANIFEST = '.vite/islands.json';

/** An island bundled in this build: its emitted asset, and its modules' rendered bytes. */
interface BuiltIsland {
	reference: string;
	modules: Record<string, number>;
}

/**
 * Lets server code import a browser entry as `'./entry.ts?island'`: the import's default export is
 * the URL of that entry bundled on its own for the browser (Svelte compiled for the client, every
 * dependency included, one file). A page that turns SvelteKit's client off (`csr = false`) loads it
 * with a module script to hydrate one component, without SvelteKit's router.
 *
 * In `vite build` the bundle is a content-hashed asset of the server build, which SvelteKit copies
 * to the client's immutable assets, and its URL follows `kit.paths`. In `vite dev` the URL is the
 * entry's own, which Vite transforms on request.
 *
 * SvelteKit still bundles a `csr = false` page's components for the browser, though no browser
 * loads them; there `Island.svelte` gets a stub instead of Svelte's server renderer, so that bundle
 * neither holds server code nor makes the build warn about its `node:async_hooks` import.
 *
 * @example
 * ```ts
 * // vite.config.ts
 * export default defineConfig({ plugins: [sveltekit(), islands()] });
 *
 * // +page.server.ts
 * import dashboardScript from './dashboard-island.ts?island';
 * export const load = () => ({ island: dashboardScript }); // '/_app/immutable/assets/dashboard-island.Bx3f.js'
 * ```
 */
export function islands(): Plugin[] {
	return [islandEntries(), serverRenderStub()];
}

function islandEntries(): Plugin {
	let config: ResolvedConfig;
	const built = new Map<string, BuiltIsland>();
	return {
		name: 'runesocket-demo:islands',
		enforce: 'pre',
		configResolved(resolved) {
			config = resolved;
		},
		buildStart() {
			built.clear();
		},
		load: {
			filter: { id: ISLAND_QUERY },
			async handler(id) {
				const entry = id.replace(ISLAND_QUERY, '');
				if (config.command == 'serve') {
					const url = `${config.base}${normalizePath(relative(config.root, entry))}`;
					return `export default ${JSON.stringify(url)};`;
				}
				const chunk = await bundleForBrowser(config, entry);
				// `vite build --watch` rebuilds the island when one of its files changes.
				for (const module of Object.keys(chunk.modules)) {
					if (isAbsolute(module)) this.addWatchFile(module);
				}
				const reference = this.emitFile({
					type: 'asset',
					name: chunk.fileName,
					source: chunk.code
				});
				built.set(entry, { reference, modules: renderedLengths(chunk) });
				return `export default import.meta.ROLLUP_FILE_URL_${reference};`;
			}
		},
		generateBundle() {
			if (built.size == 0) return;
			const manifest = Object.fromEntries(
				[...built].map(([entry, { reference, modules }]) => [
					normalizePath(relative(config.root, entry)),
					{ file: this.getFileName(reference), modules }
				])
			);
			this.emitFile({
				type: 'asset',
				fileName: ISLANDS_MANIFEST,
				source: JSON.stringify(manifest, null, '\t')
			});
		}
	};
}

function serverRenderStub(): Plugin {
	return {
		name: 'runesocket-demo:island-server-render-stub',
		enforce: 'pre',
		resolveId: {
			filter: { id: /^svelte\/server$/ },
			handler(_id, importer) {
				const forBrowser = this.environment.config.consumer == 'client';
				if (forBrowser && importer && normalizePath(importer) == ISLAND_COMPONENT)
					return SERVER_RENDER_STUB;
			}
		},
		load: {
			filter: { id: /^\0runesocket-demo:island-server-render$/ },
			handler() {
				return `export function render() {
					throw new Error('Island.svelte renders on the server only: its page has csr = false');
				}`;
			}
		}
	};
}

/**
 * A separate build of `entry` for the browser: the same Svelte config and import aliases as the
 * app, and one output file, since nothing else on the page shares its modules.
 */
async function bundleForBrowser(
	config: ResolvedConfig,
	entry: string
): Promise<Rolldown.OutputChunk> {
	const output = await build({
		configFile: false,
		root: config.root,
		mode: config.mode,
		logLevel: 'warn',
		publicDir: false,
		plugins: [svelte()],
		resolve: { alias: config.resolve.alias },
		build: {
			write: false,
			copyPublicDir: false,
			sourcemap: false,
			// The module is loaded by a <script type="module"> tag, never preloaded.
			modulePreload: false,
			rolldownOptions: {
				input: entry,
				output: { format: 'es', entryFileNames: '[name].js', codeSplitting: false }
			}
		}
	});
	const outputs = (Array.isArray(output) ? output : [output]) as Rolldown.RolldownOutput[];
	const chunk = outputs
		.flatMap((result) => result.output)
		.find((file): file is Rolldown.OutputChunk => file.type == 'chunk' && file.isEntry);
	if (!chunk) throw new Error(`The island ${entry} built to no JavaScript`);
	return chunk;
}

function renderedLengths(chunk: Rolldown.OutputChunk): Record<string, number> {
	return Object.fromEntries(
		Object.entries(chunk.modules).map(([id, module]) => [id, module.renderedLength])
	);
}
