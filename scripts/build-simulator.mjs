// Emits the demo's simulator process (src/demo/simulator-process.ts) as one plain JavaScript file
// next to the SvelteKit build, so a production deploy runs it with plain node: no tsx, no src/.
// Usage: node scripts/build-simulator.mjs [outfile]   (default build/simulator.js; after `vite build`,
// which empties build/).
import { readFile } from 'node:fs/promises';
import { build } from 'esbuild';

const outfile = process.argv[2] ?? 'build/simulator.js';
const root = new URL('..', import.meta.url);
const manifest = JSON.parse(await readFile(new URL('package.json', root), 'utf8'));

await build({
	absWorkingDir: root.pathname,
	entryPoints: ['src/demo/simulator-process.ts'],
	outfile,
	bundle: true,
	platform: 'node',
	format: 'esm',
	target: 'node20',
	// Left out as adapter-node leaves them out of build/: the production dependencies a deploy
	// installs. Everything else (ioredis, the package's own source) is bundled in.
	external: Object.keys(manifest.dependencies ?? {}),
	// The package's own subpaths (runesocket/redis) come from its source, not from dist/.
	alias: { runesocket: './src/lib' },
	// ioredis is CommonJS and requires Node's built-ins: give its `require` a real one in ESM.
	banner: {
		js: "import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);"
	},
	logLevel: 'warning'
});
