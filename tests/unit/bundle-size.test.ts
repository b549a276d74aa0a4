import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { beforeAll, describe, expect, it } from 'vitest';

const BUDGET = 4_000;
const entry = fileURLToPath(new URL('../../src/lib/index.ts', import.meta.url));

interface Measured {
	readonly text: string;
	readonly minified: number;
	readonly gzipped: number;
}

/** Bundles `contents` (importing from the library entry) the way an app's bundler would. */
async function measure(contents: string): Promise<Measured> {
	const result = await build({
		stdin: { contents, loader: 'ts', resolveDir: process.cwd(), sourcefile: 'app.ts' },
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

const reexport = (...names: string[]) =>
	`export { ${names.join(', ')} } from ${JSON.stringify(entry)};`;

/** Strings found only in the dialects or the facade, never in SocketClient itself. */
const DIALECT_ONLY = ['{"type":"ping"}', 'unsubscribe', 'subscribe', 'Message without a string'];
const FACADE_ONLY = ['/v1/ws', 'createWebSocket needs'];

describe('bundle size', () => {
	let core: Measured;
	let withTypeKeyed: Measured;
	let withEventKeyed: Measured;
	let facade: Measured;

	beforeAll(async () => {
		[core, withTypeKeyed, withEventKeyed, facade] = await Promise.all([
			measure(reexport('SocketClient')),
			measure(reexport('SocketClient', 'typeKeyedDialect')),
			measure(reexport('SocketClient', 'eventKeyedDialect')),
			measure(reexport('createWebSocket'))
		]);
		console.log(
			[
				`SocketClient alone:            ${core.gzipped} B gzip -9 (${core.minified} B minified), budget ${BUDGET} B`,
				`SocketClient + typeKeyed:      ${withTypeKeyed.gzipped} B gzip -9 (${withTypeKeyed.minified} B minified)`,
				`SocketClient + eventKeyed:     ${withEventKeyed.gzipped} B gzip -9 (${withEventKeyed.minified} B minified)`,
				`createWebSocket alone:         ${facade.gzipped} B gzip -9 (${facade.minified} B minified)`
			].join('\n')
		);
	}, 30_000);

	it(`keeps SocketClient within ${BUDGET} bytes minified and gzipped`, () => {
		expect(core.gzipped).toBeGreaterThan(500); // It really bundled the client.
		expect(core.text).toContain('room.join');
		expect(core.gzipped).toBeLessThanOrEqual(BUDGET);
	});

	it('tree-shakes the dialects and the facade out of a SocketClient-only bundle', () => {
		for (const unique of [...DIALECT_ONLY, ...FACADE_ONLY]) {
			expect(core.text, unique).not.toContain(unique);
		}
	});

	it('includes the dialect strings once typeKeyedDialect is imported, and still not the facade', () => {
		for (const unique of DIALECT_ONLY) expect(withTypeKeyed.text, unique).toContain(unique);
		for (const unique of FACADE_ONLY) expect(withTypeKeyed.text, unique).not.toContain(unique);
		expect(withTypeKeyed.gzipped).toBeGreaterThan(core.gzipped);
	});

	it('includes only the dialect that is imported', () => {
		expect(withEventKeyed.text).toContain('neither "event" nor "type"');
		expect(core.text).not.toContain('neither "event" nor "type"');
		expect(withTypeKeyed.text).not.toContain('neither "event" nor "type"');
		expect(withEventKeyed.text).not.toContain('Message without a string');
	});

	it('includes the facade strings once createWebSocket is imported', () => {
		for (const unique of FACADE_ONLY) expect(facade.text, unique).toContain(unique);
		// The facade is built on SocketClient, so it carries the client too.
		expect(facade.text).toContain('room.join');
		expect(facade.gzipped).toBeGreaterThan(core.gzipped);
		// Its own dialect shares strings with the others, but not their decoders.
		expect(facade.text).not.toContain('Message without a string');
	});
});
