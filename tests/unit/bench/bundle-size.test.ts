import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_BUDGET, measureBundle, type MeasuredBundle } from '../../../bench/bundle.js';

const BUDGET = CLIENT_BUDGET;
const entry = fileURLToPath(new URL('../../../src/lib/index.ts', import.meta.url));
const compatEntry = fileURLToPath(new URL('../../../src/lib/compat/index.ts', import.meta.url));

const reexport = (...names: string[]) =>
	`export { ${names.join(', ')} } from ${JSON.stringify(entry)};`;

/** Strings found only in the dialects or the compat handles, never in SocketClient itself. */
const DIALECT_ONLY = ['{"type":"ping"}', 'unsubscribe', 'subscribe', 'Message without a string'];
const COMPAT_ONLY = ['/v1/ws', 'createWebSocket needs'];

describe('bundle size', () => {
	let core: MeasuredBundle;
	let withTypeKeyed: MeasuredBundle;
	let withEventKeyed: MeasuredBundle;
	let compat: MeasuredBundle;

	beforeAll(async () => {
		[core, withTypeKeyed, withEventKeyed, compat] = await Promise.all([
			measureBundle(reexport('SocketClient')),
			measureBundle(reexport('SocketClient', 'typeKeyedDialect')),
			measureBundle(reexport('SocketClient', 'eventKeyedDialect')),
			measureBundle(`export { createWebSocket } from ${JSON.stringify(compatEntry)};`)
		]);
		console.log(
			[
				`SocketClient alone:            ${core.gzipped} B gzip -9 (${core.minified} B minified), budget ${BUDGET} B`,
				`SocketClient + typeKeyed:      ${withTypeKeyed.gzipped} B gzip -9 (${withTypeKeyed.minified} B minified)`,
				`SocketClient + eventKeyed:     ${withEventKeyed.gzipped} B gzip -9 (${withEventKeyed.minified} B minified)`,
				`createWebSocket alone:         ${compat.gzipped} B gzip -9 (${compat.minified} B minified)`
			].join('\n')
		);
	}, 30_000);

	it(`keeps SocketClient within ${BUDGET} bytes minified and gzipped`, () => {
		expect(core.gzipped).toBeGreaterThan(500); // It really bundled the client.
		expect(core.text).toContain('room.join');
		expect(core.gzipped).toBeLessThanOrEqual(BUDGET);
	});

	it('tree-shakes the dialects and the compat handles out of a SocketClient-only bundle', () => {
		for (const unique of [...DIALECT_ONLY, ...COMPAT_ONLY]) {
			expect(core.text, unique).not.toContain(unique);
		}
	});

	it('includes the dialect strings once typeKeyedDialect is imported, and still not the compat handles', () => {
		for (const unique of DIALECT_ONLY) expect(withTypeKeyed.text, unique).toContain(unique);
		for (const unique of COMPAT_ONLY) expect(withTypeKeyed.text, unique).not.toContain(unique);
		expect(withTypeKeyed.gzipped).toBeGreaterThan(core.gzipped);
	});

	it('includes only the dialect that is imported', () => {
		expect(withEventKeyed.text).toContain('neither "event" nor "type"');
		expect(core.text).not.toContain('neither "event" nor "type"');
		expect(withTypeKeyed.text).not.toContain('neither "event" nor "type"');
		expect(withEventKeyed.text).not.toContain('Message without a string');
	});

	it('includes the compat strings once createWebSocket is imported', () => {
		for (const unique of COMPAT_ONLY) expect(compat.text, unique).toContain(unique);
		// createWebSocket is built on SocketClient, so it carries the client too.
		expect(compat.text).toContain('room.join');
		expect(compat.gzipped).toBeGreaterThan(core.gzipped);
		// Its own dialect shares strings with the others, but not their decoders.
		expect(compat.text).not.toContain('Message without a string');
	});
});
