import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * The installed version of a package, read from its package.json, for the report.
 *
 * @example
 * packageVersion('ws'); // '8.23.0'
 */
export function packageVersion(name: string): string {
	const manifest: unknown = JSON.parse(
		readFileSync(require.resolve(`${name}/package.json`), 'utf8')
	);
	const version = (manifest as { version?: unknown }).version;
	return typeof version == 'string' ? version : 'unknown';
}
