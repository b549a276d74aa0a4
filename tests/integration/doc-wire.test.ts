import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ClientMessage, type InboundMessage } from '../../src/lib/index.js';
import { extractSamples } from '../helpers/doc-samples.js';
import { makeClient } from '../helpers/clients.js';
import { connectRaw } from '../helpers/raw-clients.js';
import { startSocketServer } from '../helpers/socket-server.js';
import { reachState, within } from '../helpers/wait.js';

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
});
