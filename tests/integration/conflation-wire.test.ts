// The room delivery on the wire, against PROTOCOL.md "Room deliveries": five items, and a sixth, the
// conflation key, only when the message has one; live and replayed alike.
import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { ClientMessage } from '../../src/lib/index.js';
import { Peer, serve } from '../kit/limits.js';

/** A definition named as a documented delivery, for its data whatever the shape. */
const named = (name: unknown) => ClientMessage.define<unknown>(String(name));

/** The JSON arrays in the code block of PROTOCOL.md's "Room deliveries". */
async function documentedDeliveries(): Promise<unknown[][]> {
	const protocol = await readFile(new URL('../../PROTOCOL.md', import.meta.url), 'utf8');
	const section = protocol.split(/^### /m).find((part) => part.startsWith('Room deliveries')) ?? '';
	const block = /```json\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
	return block
		.split('\n')
		.filter((line) => line.startsWith('['))
		.map((line) => JSON.parse(line) as unknown[]);
}

describe('room deliveries on the wire', () => {
	it('are the five-item array, six with a conflation key, as PROTOCOL.md spells them, live and replayed', async () => {
		const documented = await documentedDeliveries();
		const unkeyed = documented.find((items) => items.length == 5);
		const keyed = documented.find((items) => items.length == 6);
		expect(unkeyed, 'PROTOCOL.md shows an unkeyed delivery').toBeDefined();
		expect(keyed, 'PROTOCOL.md shows a keyed delivery').toBeDefined();
		const room = unkeyed![2] as string;

		const server = await serve();
		const peer = await Peer.open(server.url());
		await peer.join(room);
		const from = peer.frames.items.length;
		expect(keyed![2], 'both examples in one room').toBe(room);
		const first = await server.sockets.publish(named(unkeyed![0]), unkeyed![1], { room });
		await server.sockets.publish(named(keyed![0]), keyed![1], {
			room,
			conflationKey: keyed![5] as string
		});
		const keyedStart = `[${JSON.stringify(keyed![0])},`;
		await peer.frames.waitFor(
			(frame) => frame.startsWith(keyedStart),
			'the keyed one',
			5_000,
			from
		);
		const live = peer.frames.items.slice(from).map((frame) => JSON.parse(frame) as unknown[]);
		const { epoch } = first!;
		// The documented frames with this stream's offsets and epoch.
		const expected = [
			[...unkeyed!.slice(0, 3), first!.offset, epoch],
			[...keyed!.slice(0, 3), first!.offset + 1, epoch, keyed![5]]
		];
		expect(live).toEqual(expected);

		// A replay (from history) writes the same frames.
		const late = await Peer.open(server.url());
		late.send({ name: 'room.join', data: { room, since: { offset: first!.offset - 1, epoch } } });
		await late.frames.waitFor((frame) => frame.startsWith(keyedStart), 'the replayed keyed one');
		const replayed = late.frames.items
			.filter((frame) => frame.startsWith('['))
			.map((frame) => JSON.parse(frame) as unknown[]);
		expect(replayed).toEqual(expected);
	});
});
