import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClientMessage, type InboundMessage } from '../../src/lib/index.js';
import {
	AUTH_MESSAGE,
	CONNECTED_MESSAGE,
	ERROR_MESSAGE,
	JOINED_MESSAGE,
	JOIN_MESSAGE,
	LEAVE_MESSAGE,
	REPLY_MESSAGE
} from '../../src/lib/protocol/envelope.js';
import { PRESENCE_DIFF, PRESENCE_GET, PRESENCE_STATE } from '../../src/lib/protocol/presence.js';
import { extractSamples } from '../kit/docs/doc-samples.js';
import { makeClient } from '../kit/clients.js';
import { connectRaw, type WsPeer } from '../kit/peers/ws-peer.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { reachState, within } from '../kit/wait.js';

// What PROTOCOL.md and README say a message carries, checked against the frames a real server
// writes: a reader builds on these fields, so a field the docs name must be on the wire.

const ROOT = new URL('../..', import.meta.url);
const Announcement = ClientMessage.define<{ text: string }>('announcement');

const readDoc = (name: string) => readFile(fileURLToPath(new URL(name, ROOT)), 'utf8');

/** The cells of the table row whose first cell is `field`, in the section headed `heading`. */
function tableRow(markdown: string, heading: string, field: string): string[] {
	const section = markdown.split(/^## /m).find((part) => part.startsWith(heading)) ?? '';
	const row = section.split('\n').find((line) => line.startsWith(`| ${field} `));
	if (!row) throw new Error(`No row ${field} under "## ${heading}"`);
	return row.split('|').map((cell) => cell.trim());
}

/** The keys of an object, and of its `data`, with the type of each value: a message's shape. */
function shapeOf(message: Record<string, unknown>): Record<string, string> {
	const data = (message.data ?? {}) as Record<string, unknown>;
	return Object.fromEntries([
		...Object.entries(message).map(([key, value]) => [key, typeof value]),
		...Object.entries(data).map(([key, value]) => [`data.${key}`, typeof value])
	]);
}

/** Each `{"name":"…",…}` a document spells out in inline code, by its name. */
function inlineMessages(markdown: string): Map<string, Record<string, unknown>> {
	const messages = new Map<string, Record<string, unknown>>();
	for (const [, json] of markdown.matchAll(/`(\{"name":[^`]+\})`/g)) {
		try {
			const message = JSON.parse(json) as Record<string, unknown>;
			messages.set(String(message.name), message);
		} catch {
			// a pattern with a placeholder (`{"name":"auth","data":{"token":…}}`), not a whole message
		}
	}
	return messages;
}

/** The error `raw` got for the frame it sends now. */
async function errorFor(raw: WsPeer, frame: unknown): Promise<Record<string, unknown>> {
	const from = raw.messages.length;
	raw.send(frame);
	const answer = await raw.nextMessage('error', 5_000, from);
	return answer.data as Record<string, unknown>;
}

async function serverWithMember(room: string) {
	const running = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
	const client = makeClient(running.url(), { reconnectDelay: 1 });
	const received: InboundMessage[] = [];
	client.onMessage((message) => received.push(message));
	client.joinRoom(room);
	client.connect();
	await reachState(client, 'connected');
	const next = (name: string, from: number) =>
		within(
			new Promise<InboundMessage>((resolve) => {
				const check = () => {
					const found = received.slice(from).find((message) => message.name == name);
					if (found) resolve(found);
				};
				check();
				client.onMessage(check);
			}),
			`a "${name}" message`
		);
	await next('room.joined', 0);
	return { running, received, next };
}

describe('the message fields the docs name are on the wire', () => {
	it('PROTOCOL.md: a message to every connection carries a `room` only if the table says so', async () => {
		const running = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
		const raw = await connectRaw(running.url());
		await raw.nextMessage('connected');
		await running.sockets.publish(Announcement, { text: 'for everyone' });
		await raw.nextMessage('announcement');
		const frame = JSON.parse(raw.frames.find((text) => text.includes('announcement'))!);

		expect(Object.keys(frame).sort()).toEqual(['data', 'name', 'timestamp']);
		const [, , , meaning] = tableRow(await readDoc('PROTOCOL.md'), 'Server → client', '`room`');
		expect(/every connection/.test(meaning) && !/no `room`|none/.test(meaning)).toBe(
			'room' in frame
		);
	});

	it('README: every `message.<field>` its samples read is on a message published to a room', async () => {
		const readme = await readDoc('README.md');
		const named = new Set(
			extractSamples(readme, 'README.md').flatMap((sample) =>
				[...sample.code.matchAll(/\bmessage\.(\w+)/g)].map((match) => match[1])
			)
		);
		expect(named.size).toBeGreaterThan(0);

		const { running, received, next } = await serverWithMember('account:42');
		const from = received.length;
		await running.sockets.to('account:42').emit(Announcement, { text: 'to the room' });
		const delivery = await next('announcement', from);
		const missing = [...named].filter(
			(field) => (delivery as unknown as Record<string, unknown>)[field] === undefined
		);
		expect(missing).toEqual([]);
	});

	it('PROTOCOL.md: the `heartbeat` message of `serverHeartbeat` has the shape it spells out', async () => {
		const documented = inlineMessages(await readDoc('PROTOCOL.md')).get('heartbeat');
		expect(documented, 'PROTOCOL.md spells out the heartbeat message').toBeDefined();
		const running = await startSocketServer({
			routes: [{ path: '/ws', origins: 'any', serverHeartbeat: 20 }]
		});
		const raw = await connectRaw(running.url());
		const sent = (await raw.nextMessage('heartbeat')) as unknown as Record<string, unknown>;
		expect(shapeOf(sent)).toEqual(shapeOf(documented!));
	});

	it('PROTOCOL.md names every message only the server sends, which a client gets `malformed` for', async () => {
		const running = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
		const raw = await connectRaw(running.url());
		await raw.nextMessage('connected');
		const names = [
			AUTH_MESSAGE,
			JOIN_MESSAGE,
			LEAVE_MESSAGE,
			CONNECTED_MESSAGE,
			JOINED_MESSAGE,
			REPLY_MESSAGE,
			ERROR_MESSAGE,
			PRESENCE_STATE,
			PRESENCE_DIFF,
			PRESENCE_GET
		];
		const serverOnly: string[] = [];
		for (const name of names) {
			if (name == AUTH_MESSAGE) continue; // ignored after authentication: no answer to wait for
			const error = await errorFor(raw, { name, data: {} });
			if (error.code == 'malformed' && /only the server/i.test(String(error.message))) {
				serverOnly.push(name);
			}
		}
		const sentence = /Names only the server\s+sends \(([^)]+)\)/.exec(await readDoc('PROTOCOL.md'));
		const listed = [...(sentence?.[1] ?? '').matchAll(/`([^`]+)`/g)].map((match) => match[1]);
		expect(listed.sort()).toEqual(serverOnly.sort());
	});
});
