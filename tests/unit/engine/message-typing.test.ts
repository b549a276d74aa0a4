// Conflation keys of typed publishes (engine/message-typing.ts): from the definition, from the
// publish (which wins, `null` removing it), only on room messages; a bad key or a key function that
// throws refuses the publish, naming the message, and nothing reaches the engine.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ClientMessage } from '../../../src/lib/index.js';
import { MAX_CONFLATION_KEY_LENGTH } from '../../../src/lib/protocol/message.js';
import { roomDeliveryFrame } from '../../../src/lib/protocol/envelope.js';
import { createSocketServer, type SocketServer } from '../../../src/lib/server/index.js';
import type { PublishOptions } from '../../../src/lib/engine/engine.js';
import type { StreamPosition } from '../../../src/lib/index.js';
import { StubEngine } from '../../kit/engine-stub.js';

/** Every message handed to the engine, with its room. */
class RecordingEngine extends StubEngine {
	readonly published: { room: string; message: { name: string } & Record<string, unknown> }[] = [];

	override publish(
		room: string,
		message: unknown,
		options?: PublishOptions
	): Promise<StreamPosition | undefined> {
		this.published.push({ room, message: message as { name: string } & Record<string, unknown> });
		return super.publish(room, message, options);
	}
}

const servers: SocketServer[] = [];
afterEach(async () => {
	await Promise.all(servers.splice(0).map((server) => server.close()));
});

function server(): { sockets: SocketServer; published: RecordingEngine['published'] } {
	const engine = new RecordingEngine();
	const sockets = createSocketServer({ engine, routes: [{ path: '/ws' }] });
	servers.push(sockets);
	return { sockets, published: engine.published };
}

const State = ClientMessage.define<{ id: string | number; v?: number }>('monitor.state', {
	conflationKey: (state) => state.id
});
const Plain = ClientMessage.define<{ id: string }>('plain');

describe('conflation keys of typed publishes', () => {
	it("take the definition's key, a number as its string", async () => {
		const { sockets, published } = server();
		await sockets.publish(State, { id: 'm1' }, { room: 'r' });
		await sockets.publish(State, { id: 7 }, { room: 'r' });
		await sockets.to('r').emit(State, { id: 'm2' });
		expect(published.map(({ message }) => message.conflationKey)).toEqual(['m1', '7', 'm2']);
	});

	it("take the publish's key over the definition's, and none with null", async () => {
		const { sockets, published } = server();
		await sockets.publish(State, { id: 'm1' }, { room: 'r', conflationKey: 'other' });
		await sockets.publish(State, { id: 'm1' }, { room: 'r', conflationKey: 3 });
		await sockets.publish(State, { id: 'm1' }, { room: 'r', conflationKey: null });
		await sockets.publish(Plain, { id: 'p' }, { room: 'r', conflationKey: 'given' });
		await sockets.publish(Plain, { id: 'p' }, { room: 'r' });
		const keys = published.map(({ message }) => message.conflationKey);
		expect(keys).toEqual(['other', '3', undefined, 'given', undefined]);
		// No key, no sixth item: the delivery stays the five-item array.
		const frame = JSON.parse(
			roomDeliveryFrame({ ...published[2].message, offset: 3, epoch: 'e' }, 'r')
		);
		expect(frame).toHaveLength(5);
	});

	it('accepts a key of exactly the longest length', async () => {
		const { sockets, published } = server();
		const longest = 'k'.repeat(MAX_CONFLATION_KEY_LENGTH);
		await sockets.publish(State, { id: longest }, { room: 'r' });
		expect(published[0].message.conflationKey).toBe(longest);
	});

	it('gives a publish without a room no key, and does not ask the definition for one', async () => {
		let asked = 0;
		const Throwing = ClientMessage.define<{ id?: string }>('throwing', {
			conflationKey: (data) => {
				asked++;
				if (!data.id) throw new Error('no id');
				return data.id;
			}
		});
		const { sockets, published } = server();
		await sockets.publish(State, { id: 'm1' });
		await sockets.publish(State, { id: 'm1' }, { conflationKey: 'x' });
		await sockets.publish(Throwing, {});
		expect(
			published.map(({ room, message }) => [
				room,
				'conflationKey' in message && message.conflationKey
			])
		).toEqual([
			[expect.any(String), undefined],
			[expect.any(String), undefined],
			[expect.any(String), undefined]
		]);
		expect(asked).toBe(0);
	});

	it.each<[string, unknown]>([
		['an empty string', ''],
		['a string over the longest length', 'k'.repeat(MAX_CONFLATION_KEY_LENGTH + 1)],
		['NaN', NaN],
		['Infinity', Infinity],
		['-Infinity', -Infinity],
		['an object', { id: 1 }],
		['an object without a prototype', Object.create(null)],
		['an array', ['a']],
		['a boolean', true],
		['a bigint', 10n]
	])(
		'refuses %s as a key, from the definition or the publish, naming the message',
		async (_, key) => {
			const { sockets, published } = server();
			const Keyed = ClientMessage.define<{ key: unknown }>('keyed', {
				conflationKey: (data) => data.key as string
			});
			const refusal = `The conflation key of "keyed" must be a finite number or a string of 1 to ${MAX_CONFLATION_KEY_LENGTH} characters, not `;
			const error = await sockets
				.publish(Keyed, { key }, { room: 'r' })
				.catch((error: unknown) => error);
			expect(error).toBeInstanceOf(TypeError);
			expect((error as TypeError).message.startsWith(refusal), (error as TypeError).message).toBe(
				true
			);
			await expect(
				sockets.publish(Plain, { id: 'p' }, { room: 'r', conflationKey: key as string })
			).rejects.toThrow(/^The conflation key of "plain" must be/);
			expect(published).toEqual([]);
		}
	);

	it('rejects with the error a key function throws, and publishes nothing', async () => {
		const failure = new Error('monitor without an id');
		const Failing = ClientMessage.define<{ id?: string }>('failing', {
			conflationKey: () => {
				throw failure;
			}
		});
		const { sockets, published } = server();
		await expect(sockets.publish(Failing, {}, { room: 'r' })).rejects.toBe(failure);
		// The publish's own key means the definition's function is not asked.
		await sockets.publish(Failing, {}, { room: 'r', conflationKey: 'given' });
		expect(published.map(({ message }) => message.conflationKey)).toEqual(['given']);
	});

	it('checks the data before the key', async () => {
		const Checked = ClientMessage.define('checked', z.object({ id: z.string() }), {
			conflationKey: (data) => data.id
		});
		const { sockets, published } = server();
		await expect(
			sockets.publish(Checked, { id: 5 } as unknown as { id: string }, { room: 'r' })
		).rejects.toThrow(/^Cannot publish "checked"/);
		await sockets.publish(Checked, { id: 'a' }, { room: 'r' });
		expect(published.map(({ message }) => message.conflationKey)).toEqual(['a']);
	});
});
