import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as messages from '../../../src/demo/messages.js';
import { Validated } from '../../../src/demo/schemas.js';

const messagesModule = fileURLToPath(new URL('../../../src/demo/messages.ts', import.meta.url));
const library = fileURLToPath(new URL('../../../src/lib/index.ts', import.meta.url));

const incident = {
	uuid: 'a1',
	account: 'acme',
	project: 'web',
	title: 'Checkout is down',
	severity: 'critical',
	createdAt: 1,
	createdBy: 'Ada'
};

/** Whether the server's definition accepts `data`, as its publish and handlers would check it. */
async function accepts(definition: keyof typeof Validated, data: unknown): Promise<boolean> {
	const result = await Validated[definition].schema!['~standard'].validate(data);
	return !result.issues;
}

describe("the dashboard's messages", () => {
	it('has a server definition with a schema for every page definition, under the same name', () => {
		for (const [key, serverDefinition] of Object.entries(Validated)) {
			const pageDefinition = messages[key as keyof typeof Validated];
			expect(serverDefinition.name).toBe(pageDefinition.name);
			expect(serverDefinition.schema).toBeDefined();
			expect(pageDefinition.schema).toBeUndefined();
		}
	});

	it('lets the server refuse what does not fit, before it is published or handled', async () => {
		expect(await accepts('IncidentCreated', incident)).toBe(true);
		expect(await accepts('IncidentCreated', { ...incident, title: '' })).toBe(false);
		expect(await accepts('IncidentCreated', { ...incident, title: 'x'.repeat(121) })).toBe(false);
		expect(await accepts('IncidentCreated', { ...incident, severity: 'meh' })).toBe(false);
		const monitor = { uuid: 'm', account: 'acme', project: 'web', name: 'API', changedAt: 1 };
		expect(await accepts('MonitorStatusChanged', { ...monitor, status: 'down' })).toBe(true);
		expect(await accepts('MonitorStatusChanged', { ...monitor, status: 'sideways' })).toBe(false);
		expect(await accepts('Ping', { sentAt: 5 })).toBe(true);
		expect(await accepts('Ping', { sentAt: 'soon' })).toBe(false);
	});

	it('costs the page no zod: the module the page imports bundles without it', async () => {
		const result = await build({
			entryPoints: [messagesModule],
			bundle: true,
			write: false,
			format: 'esm',
			platform: 'browser',
			alias: { runesocket: library },
			metafile: true,
			logLevel: 'silent'
		});
		const inputs = Object.keys(result.metafile.inputs);
		expect(inputs.some((input) => input.includes('src/lib/protocol/message'))).toBe(true);
		expect(inputs.filter((input) => input.includes('node_modules/zod'))).toEqual([]);
	});
});
