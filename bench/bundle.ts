// How every size figure of this project is measured, in one place: the budget test, the wiring
// test on dist/ and the benchmark against the anchors all bundle the same way.
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';

/**
 * The most `SocketClient` alone may weigh, min+gz. It was under partysocket 1.3's `PartySocket`
 * (4,059 B measured the same way, BENCHMARKS.md), which does less — no heartbeat, rooms, recovery or
 * schemas; read reports and conflation keys (issue 21) cost about 110 B that a pass over the rest won
 * back only a third of, so it is now within 2% of it (4,135 B), and must not grow past that again.
 */
export const CLIENT_BUDGET = 4_150;

/** A bundle's text and its sizes in bytes. */
export interface MeasuredBundle {
	readonly text: string;
	readonly minified: number;
	readonly gzipped: number;
}

/**
 * Bundles `contents` (a module that re-exports what an app would import) as an app's bundler would:
 * esbuild, minified, ESM, ES2022, for the browser; then gzip -9.
 */
export async function measureBundle(
	contents: string,
	resolveDir = process.cwd()
): Promise<MeasuredBundle> {
	const result = await build({
		stdin: { contents, loader: 'ts', resolveDir, sourcefile: 'app.ts' },
		bundle: true,
		minify: true,
		format: 'esm',
		target: 'es2022',
		platform: 'browser',
		write: false,
		logLevel: 'silent'
	});
	const output = result.outputFiles[0];
	if (!output || result.outputFiles.length != 1) throw new Error('expected exactly one output');
	return {
		text: output.text,
		minified: output.contents.byteLength,
		gzipped: gzipSync(output.contents, { level: 9 }).byteLength
	};
}
