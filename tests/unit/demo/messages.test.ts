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
	status: 'open',
	createdAt: 1,
	createdBy: 'Ada',
	timeline: [{ kind: 'opened', at: 1, by: 'Ada' }]
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
			expect(Boolean(serverDefinition.conflationKey)).toBe(Boolean(pageDefinition.conflationKey));
		}
	});

	it("conflates a monitor's states and checks per monitor, and never an incident's changes", () => {
		const check = { uuid: 'acme/web/api', at: 2, ms: 80, seq: 7 };
		for (const definition of [messages.MonitorChecked, Validated.MonitorChecked]) {
			expect(definition.conflationKey?.(check)).toBe('acme/web/api');
		}
		const monitor = { uuid: 'acme/web/api' } as messages.Monitor;
		for (const definition of [messages.MonitorStatusChanged, Validated.MonitorStatusChanged]) {
			expect(definition.conflationKey?.(monitor)).toBe('acme/web/api');
		}
		const unkeyed = ['IncidentChanged', 'IncidentArchived', 'ActivityLogged'] as const;
		for (const key of unkeyed) expect(Validated[key].conflationKey).toBeUndefined();
	});

	it('lets the server refuse what does not fit, before it is published or handled', async () => {
		expect(await accepts('IncidentChanged', incident)).toBe(true);
		expect(await accepts('IncidentChanged', { ...incident, title: '' })).toBe(false);
		expect(await accepts('IncidentChanged', { ...incident, title: 'x'.repeat(121) })).toBe(false);
		expect(await accepts('IncidentChanged', { ...incident, severity: 'meh' })).toBe(false);
		expect(await accepts('IncidentChanged', { ...incident, timeline: [] })).toBe(false);
		const update = { kind: 'update', at: 2, by: 'Ada', text: 'x'.repeat(281) };
		expect(await accepts('IncidentChanged', { ...incident, timeline: [update] })).toBe(false);
		const monitor = {
			uuid: 'm',
			account: 'acme',
			project: 'web',
			name: 'API',
			changedAt: 1,
			checks: [{ at: 1, ms: 80, seq: 1 }],
			spans: [{ at: 0, status: 'up' }]
		};
		expect(await accepts('MonitorStatusChanged', { ...monitor, status: 'down' })).toBe(true);
		expect(await accepts('MonitorStatusChanged', { ...monitor, status: 'sideways' })).toBe(false);
		expect(await accepts('MonitorChecked', { uuid: 'm', at: 2, ms: null, seq: 2 })).toBe(true);
		expect(await accepts('MonitorChecked', { uuid: 'm', at: 2, ms: -1, seq: 2 })).toBe(false);
		expect(await accepts('MonitorChecked', { uuid: 'm', at: 2, ms: 80 })).toBe(false);
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
