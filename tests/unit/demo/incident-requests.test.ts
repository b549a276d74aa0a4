import { describe, expect, it } from 'vitest';
import { defineRoute } from '../../../src/lib/server/index.js';
import type { SocketError } from '../../../src/lib/index.js';
import { DEFAULT_ACCOUNT_LIMITS, DemoAccounts } from '../../../src/demo/accounts.js';
import { Dashboard } from '../../../src/demo/dashboard.js';
import { answerIncidentRequests } from '../../../src/demo/incident-requests.js';
import { REFUSALS } from '../../../src/demo/incident-rules.js';
import {
	AcknowledgeIncident,
	accountRoom,
	IncidentChanged,
	OpenIncident,
	REFUSED,
	ResolveIncident,
	UpdateIncident,
	type Incident
} from '../../../src/demo/messages.js';
import type { DemoSession } from '../../../src/demo/session.js';
import { MemoryDashboardStore } from '../../../src/demo/store.js';
import { makeClient } from '../../kit/clients.js';
import { startSocketServer } from '../../kit/servers/socket-server.js';
import { reachState, until } from '../../kit/wait.js';

// The incident actions a page sends on its socket (incident-requests.ts), against a real socket
// server and client: the form actions' rules and words, and a new incident's id taken once.

const ADA: DemoSession = { name: 'Ada', account: 'acme', sid: 'session-of-ada', exp: Infinity };
const uuid = '3b241101-e2bb-4255-8caf-4136c566a962';
const fields = { title: 'Disk almost full', severity: 'warning', project: 'data' };

/** The demo's socket server in small: one route whose every connection is Ada. */
async function startDemoSockets() {
	const store = new MemoryDashboardStore();
	const server = await startSocketServer({
		routes: [
			defineRoute<DemoSession>({
				path: '/ws',
				firstMessageAuth: { verify: () => ({ success: true, data: ADA }) },
				userId: (session) => session.sid,
				authorizeJoin: () => true
			})
		]
	});
	const accounts = new DemoAccounts(store, DEFAULT_ACCOUNT_LIMITS, () => [ADA.account]);
	const dashboard = new Dashboard(store, server.sockets, accounts);
	answerIncidentRequests(server.sockets, dashboard, {});
	const client = makeClient(server.url(), { auth: () => 'token' });
	const changes: Incident[] = [];
	client.joinRoom(accountRoom(ADA.account));
	client.on(IncidentChanged, (incident) => changes.push(incident));
	client.connect();
	await reachState(client, 'connected');
	return { store, client, changes };
}

/** The refusal a request met: its error's code and message. */
async function refusal(answer: Promise<unknown>): Promise<{ code?: string; message: string }> {
	const error = (await answer.then(
		() => {
			throw new Error('answered, not refused');
		},
		(failure: unknown) => failure
	)) as SocketError;
	return { code: error.code, message: error.message };
}

describe('the incident requests on the socket', () => {
	it('open, acknowledge, update and resolve as the forms do, refused in the forms’ words', async () => {
		const { store, client, changes } = await startDemoSockets();
		const refused = (message: string) => ({ code: REFUSED, message });

		expect(await client.request(OpenIncident, { uuid, ...fields })).toBeNull();
		expect(await refusal(client.request(OpenIncident, { uuid, ...fields }))).toEqual(
			refused(REFUSALS.taken)
		);
		expect(
			await refusal(client.request(OpenIncident, { ...fields, uuid: 'not-a-uuid' }))
		).toMatchObject({ code: 'invalid_data' });
		const blank = { ...fields, uuid: crypto.randomUUID(), title: '   ' };
		expect(await refusal(client.request(OpenIncident, blank))).toEqual(
			refused('A title of 1 to 120 characters.')
		);
		expect(await refusal(client.request(UpdateIncident, { uuid, text: '' }))).toEqual(
			refused('An update of 1 to 280 characters.')
		);

		await client.request(AcknowledgeIncident, { uuid });
		expect(await refusal(client.request(AcknowledgeIncident, { uuid }))).toEqual(
			refused(REFUSALS.acknowledged)
		);
		await client.request(UpdateIncident, { uuid, text: ' Cleaned the logs ' });
		await client.request(ResolveIncident, { uuid });
		expect(await refusal(client.request(ResolveIncident, { uuid }))).toEqual(
			refused(REFUSALS.resolved)
		);
		expect(await refusal(client.request(ResolveIncident, { uuid: 'gone' }))).toEqual(
			refused(REFUSALS['not-found'])
		);

		const [incident] = (await store.snapshot(ADA.account)).incidents;
		expect(incident).toMatchObject({ uuid, title: 'Disk almost full', createdBy: 'Ada' });
		expect(incident!.timeline.map(({ kind, text }) => [kind, text])).toEqual([
			['opened', undefined],
			['acknowledged', undefined],
			['update', 'Cleaned the logs'],
			['resolved', undefined]
		]);
		await until(() => changes.length == 4, 'the four changes on the account’s room');
		expect(changes.map((change) => change.status)).toEqual([
			'open',
			'acknowledged',
			'acknowledged',
			'resolved'
		]);
	});
});
