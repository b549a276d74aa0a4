// runesocket's client entry as an application ships it: bundled by esbuild from the working tree's
// src/lib. Importing src/lib through tsx instead would measure tsx's transform too: it keeps
// function names by wrapping every closure the client creates per message in a `__name` call
// (1.4% of a profile's samples), which no application bundle does.
import { build } from 'esbuild';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const entry = fileURLToPath(new URL('../../src/lib/index.ts', import.meta.url));

/** The client entry's exports, from a fresh bundle of the working tree. */
export type ClientModule = typeof import('../../src/lib/index.js');

/**
 * Bundles the client entry (ESM, ES2022, packages left external, not minified so a profile names
 * its functions) and imports it.
 *
 * @example
 * const { SocketClient, ClientMessage } = await importBundledClient();
 */
export async function importBundledClient(): Promise<ClientModule> {
	const directory = mkdtempSync(join(tmpdir(), 'runesocket-inbound-'));
	const outfile = join(directory, 'client.mjs');
	try {
		await build({
			entryPoints: [entry],
			outfile,
			bundle: true,
			format: 'esm',
			target: 'es2022',
			platform: 'neutral',
			packages: 'external',
			logLevel: 'silent'
		});
		return (await import(pathToFileURL(outfile).href)) as ClientModule;
	} finally {
		rmSync(directory, { recursive: true, force: true });
	}
}
