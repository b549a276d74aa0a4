import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('the published package', () => {
	it('builds dist/ with svelte-package, passes publint, and keeps the client entry small', async () => {
		const output = execFileSync('npm', ['run', 'package'], { cwd: root, encoding: 'utf8' });
		expect(output).toContain('All good!');

		const manifest = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as {
			exports: Record<string, { types: string; default: string }>;
		};
		const entry = manifest.exports['.'];
		expect(readFileSync(`${root}/${entry.types}`, 'utf8')).toContain('SocketClient');

		const bundle = await build({
			stdin: { contents: `export { SocketClient } from './dist/index.js';`, resolveDir: root },
			bundle: true,
			minify: true,
			format: 'esm',
			target: 'es2022',
			write: false,
			logLevel: 'silent'
		});
		const size = gzipSync(bundle.outputFiles[0].contents, { level: 9 }).length;
		console.log(`dist SocketClient: ${size} B min+gz`);
		expect(size).toBeLessThanOrEqual(4_000);
	}, 60_000);
});
