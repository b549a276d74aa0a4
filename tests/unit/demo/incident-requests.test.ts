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
import { connectRaw, type WsPeer } from '../../kit/peers/ws-peer.js';
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
	return { store, client, changes, url: server.url() };
}

/**
 * Sends `data` as a request of `id` under request `key` on a raw socket, as a page's outbox does on
 * every attempt, and resolves with its answer.
 */
async function keyed(peer: WsPeer, name: string, data: object, key: string, id: number) {
	peer.send({ name, data, key, id });
	for (let seen = 0; ; seen = peer.messages.length) {
		await peer.waitForMessages(seen + 1);
		const answer = peer.messages.find((message) => message.id == id);
		if (answer) return { name: answer.name, data: answer.data };
	}
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

	it('applies a request sent again under its key once, and answers the repeat with the first answer', async () => {
		const { store, url } = await startDemoSockets();
		const peer = await connectRaw(url);
		peer.send({ name: 'auth', data: { token: 'token' } });
		await peer.nextMessage('connected');
		const reply = { name: 'reply', data: null };
		const open = { uuid, ...fields };
		// Sent twice at once: the repeat waits for the first to be answered, then gets its answer.
		expect(
			await Promise.all([
				keyed(peer, OpenIncident.name, open, 'open-once', 1),
				keyed(peer, OpenIncident.name, open, 'open-once', 2)
			])
		).toEqual([reply, reply]);
		const update = { uuid, text: 'Written once' };
		expect(await keyed(peer, UpdateIncident.name, update, 'update-once', 3)).toEqual(reply);
		expect(await keyed(peer, UpdateIncident.name, update, 'update-once', 4)).toEqual(reply);
		// A new key is a new request: this one is refused, and so is its repeat, with the same words.
		const refusal = { name: 'error', data: { code: REFUSED, message: REFUSALS.taken } };
		expect(await keyed(peer, OpenIncident.name, open, 'open-again', 5)).toEqual(refusal);
		expect(await keyed(peer, OpenIncident.name, open, 'open-again', 6)).toEqual(refusal);

		const [incident] = (await store.snapshot(ADA.account)).incidents;
		expect(incident!.timeline.map(({ kind }) => kind)).toEqual(['opened', 'update']);
	});
});
