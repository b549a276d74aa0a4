import { describe, expect, it } from 'vitest';
import type { Incident } from '../../../src/demo/messages.js';
import { changeOf } from '../../../src/routes/components/incident-actions.svelte.js';

// What the page shows at once of each incident action (changeOf), before the server answered. The
// collection applies a change again on every newer server value of its incident until then, so a
// change must not add what the server already sent back.

const ada = { name: 'Ada', account: 'acme' };
const uuid = '3b241101-e2bb-4255-8caf-4136c566a962';
const open: Incident = {
	uuid,
	account: 'acme',
	project: 'web',
	title: 'Checkout is slow',
	severity: 'warning',
	status: 'open',
	createdAt: 1,
	createdBy: 'Grace',
	timeline: [{ kind: 'opened', at: 1, by: 'Grace' }]
};

/** The change of the request `name` with `data`, made by Ada at 5. */
const change = (name: string, data: object) => changeOf(name, { uuid, ...data }, ada, 5)!.change;
const kinds = (incident: Incident | null) =>
	incident?.timeline.map(({ kind, by }) => `${kind} ${by}`);

describe('an incident action shown at once', () => {
	it('opens, acknowledges and resolves once, whatever newer value it is applied to', () => {
		const opened = change('incident.open', {
			title: 'Disk full',
			severity: 'info',
			project: 'data'
		});
		expect(opened(undefined)).toMatchObject({
			uuid,
			title: 'Disk full',
			status: 'open',
			createdBy: 'Ada'
		});
		expect(opened(open)).toBe(open);

		const acknowledge = change('incident.acknowledge', {});
		expect(kinds(acknowledge(open))).toEqual(['opened Grace', 'acknowledged Ada']);
		const acknowledged = acknowledge(open)!;
		expect(acknowledge(acknowledged)).toBe(acknowledged);
		expect(acknowledge(undefined)).toBeNull();

		const resolve = change('incident.resolve', {});
		expect(resolve(acknowledged)).toMatchObject({ status: 'resolved' });
		const resolved = resolve(acknowledged)!;
		expect(resolve(resolved)).toBe(resolved);
	});

	it('adds an update once: not again on the server’s copy that has it, but on one that does not yet', () => {
		const update = change('incident.update', { text: 'Rolled back' });
		expect(update(open)?.timeline.at(-1)).toEqual({
			kind: 'update',
			at: 5,
			by: 'Ada',
			text: 'Rolled back'
		});
		const echoed = {
			...open,
			timeline: [
				...open.timeline,
				{ kind: 'update' as const, at: 7, by: 'Ada', text: 'Rolled back' }
			]
		};
		expect(update(echoed)).toBe(echoed);
		const othersFirst = {
			...open,
			status: 'acknowledged' as const,
			timeline: [...open.timeline, { kind: 'acknowledged' as const, at: 6, by: 'Grace' }]
		};
		expect(kinds(update(othersFirst))).toEqual([
			'opened Grace',
			'acknowledged Grace',
			'update Ada'
		]);
	});

	it('is no incident action for anything else', () => {
		expect(changeOf('demo.ping', { sentAt: 1 }, ada, 5)).toBeUndefined();
		expect(changeOf('incident.resolve', { uuid: 7 }, ada, 5)).toBeUndefined();
	});
});
