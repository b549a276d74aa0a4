// What the server does with messages it cannot take: unknown names, prototype pollution, data a typed handler’s schema refuses.
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ClientMessage } from '../../src/lib/index.js';
import { errorData, Peer, serve, withEcho, forbiddenKeysIn } from '../kit/limits.js';

describe('unknown message names', () => {
	it('answers unknown_message with the request id when nothing handles the name', async () => {
		const server = await serve();
		withEcho(server);
		const peer = await Peer.open(server.url());
		const answer = await peer.request('nobody.handles.this', { a: 1 }, 7);
		expect(answer.name).toBe('error');
		expect(answer.id).toBe(7);
		expect(errorData(answer)).toEqual({
			code: 'unknown_message',
			message: 'Unknown message "nobody.handles.this"'
		});
		// Names that are Object.prototype members do not find a handler either.
		let id = 10;
		for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
			const refused = await peer.request(name, null, ++id);
			expect(refused.id).toBe(id);
			expect(errorData(refused).code).toBe('unknown_message');
		}
		// Without an id the error still comes, unaddressed.
		peer.send({ name: 'nobody.handles.this', data: null });
		const unaddressed = await peer.envelope(
			(message) => message.name == 'error' && message.id === undefined,
			'the unaddressed error'
		);
		expect(errorData(unaddressed).code).toBe('unknown_message');
		expect((await peer.request('echo', 'still here', 99)).data).toBe('still here');
	});

	it('hands unknown names to the route onMessage instead, typed handlers first', async () => {
		const received: { name: string; data: unknown; id?: number }[] = [];
		const server = await serve({
			onMessage: (connection, message) => {
				received.push({ ...message });
				connection.send({
					name: 'seen',
					data: message.name,
					id: message.id,
					timestamp: Date.now()
				});
			}
		});
		withEcho(server);
		const peer = await Peer.open(server.url());
		peer.send({ name: 'custom.thing', data: { x: 1 }, id: 3 });
		peer.send({ name: 'custom.other', data: 'no id' });
		await peer.envelope(
			(message) => message.name == 'seen' && message.data == 'custom.other',
			'seen'
		);
		expect(received).toEqual([
			{ name: 'custom.thing', data: { x: 1 }, id: 3 },
			{ name: 'custom.other', data: 'no id', id: undefined }
		]);
		expect((await peer.request('echo', 1, 4)).name).toBe('reply');
		expect(received).toHaveLength(2);
		expect(peer.envelopes.filter((message) => message.name == 'error')).toEqual([]);
	});
});

describe('prototype pollution', () => {
	const Inspect = ClientMessage.define<unknown>('inspect');
	const hostile = (name: string, id: number) =>
		`{"name":"${name}","id":${id},"__proto__":{"polluted":"top"},"constructor":{"prototype":{"polluted":"top"}},` +
		`"data":{"safe":1,"__proto__":{"polluted":"data"},"constructor":{"prototype":{"polluted":"ctor"}},` +
		`"prototype":{"polluted":"proto"},"nested":{"list":[{"keep":true,"__proto__":{"polluted":"deep"}},` +
		`{"constructor":{"polluted":"deep"}}],"deeper":{"prototype":1,"__proto__":[1],"ok":"yes"}}}}`;
	// A `constructor` without a `prototype` and a `prototype` on its own are data, and are kept.
	const cleaned: unknown = {
		safe: 1,
		prototype: { polluted: 'proto' },
		nested: {
			list: [{ keep: true }, { constructor: { polluted: 'deep' } }],
			deeper: { prototype: 1, ok: 'yes' }
		}
	};

	afterEach(() => {
		expect(Object.prototype).not.toHaveProperty('polluted');
	});

	it('drops __proto__, and constructor keys holding a prototype, at every depth before any handler', async () => {
		const typed: unknown[] = [];
		const untyped: unknown[] = [];
		const server = await serve({
			onMessage: (connection, message) => {
				untyped.push(message.data);
				connection.send({ name: 'reply', data: 'seen', id: message.id, timestamp: Date.now() });
			}
		});
		server.sockets.on(Inspect, (_connection, data, reply) => {
			typed.push(data);
			reply('seen');
		});
		const peer = await Peer.open(server.url());

		peer.send(hostile('inspect', 1));
		expect((await peer.answer(1)).data).toBe('seen');
		peer.send(hostile('something.unknown', 2));
		expect((await peer.answer(2)).data).toBe('seen');

		expect(typed).toEqual([cleaned]);
		expect(untyped).toEqual([cleaned]);
		expect(forbiddenKeysIn(typed[0])).toEqual([]);
		expect(forbiddenKeysIn(untyped[0])).toEqual([]);
		const probe: Record<string, unknown> = {};
		expect(probe.polluted).toBeUndefined();
		expect(Object.prototype).not.toHaveProperty('polluted');
		expect(Object.getPrototypeOf({})).toBe(Object.prototype);
	});

	it('keeps a zod-typed handler clean too (the schema never sees the keys)', async () => {
		const Profile = ClientMessage.define(
			'profile',
			z.looseObject({ name: z.string(), settings: z.looseObject({ theme: z.string() }) })
		);
		const seen: unknown[] = [];
		const server = await serve();
		server.sockets.on(Profile, (_connection, data, reply) => {
			seen.push(data);
			reply(Object.keys(data).sort());
		});
		const peer = await Peer.open(server.url());
		peer.send(
			'{"name":"profile","id":1,"data":{"name":"ada","__proto__":{"isAdmin":true},' +
				'"settings":{"theme":"dark","constructor":{"prototype":{"isAdmin":true}}}}}'
		);
		const reply = await peer.answer(1);
		expect(reply.data).toEqual(['name', 'settings']);
		expect(seen).toEqual([{ name: 'ada', settings: { theme: 'dark' } }]);
		expect(forbiddenKeysIn(seen[0])).toEqual([]);
		expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
	});
});

describe('typed handlers (zod 4)', () => {
	const CreateIncident = ClientMessage.define(
		'incident.create',
		z.object({ title: z.string().min(1), severity: z.enum(['low', 'high']) })
	);

	it('answers invalid_data with the id and never calls the handler', async () => {
		const calls: { title: string; severity: 'low' | 'high' }[] = [];
		const server = await serve();
		server.sockets.on(CreateIncident, (_connection, data, reply) => {
			calls.push(data);
			reply({ created: data.title });
		});
		const peer = await Peer.open(server.url());
		for (const [id, data] of [
			[1, { title: '', severity: 'low' }],
			[2, { title: 'DB down', severity: 'apocalyptic' }],
			[3, 'not an object'],
			[4, undefined]
		] as const) {
			const answer = await peer.request('incident.create', data, id);
			expect(answer.id).toBe(id);
			expect(errorData(answer).code).toBe('invalid_data');
			expect(errorData(answer).message).toMatch(/^Invalid "incident.create": /);
		}
		expect(calls).toEqual([]);
		const ok = await peer.request('incident.create', { title: 'DB down', severity: 'high' }, 5);
		expect(ok).toMatchObject({ name: 'reply', id: 5, data: { created: 'DB down' } });
		expect(calls).toEqual([{ title: 'DB down', severity: 'high' }]);
	});

	it('answers internal_error when a handler throws or rejects, reports it, and keeps serving', async () => {
		const Explode = ClientMessage.define('explode', z.object({ how: z.enum(['throw', 'reject']) }));
		const ReplyThenThrow = ClientMessage.define<null>('reply.then.throw');
		const reported: { id: string; message: string }[] = [];
		const server = await serve({
			onError: (connection, error) => reported.push({ id: connection.id, message: error.message })
		});
		withEcho(server);
		server.sockets.on(Explode, async (_connection, { how }) => {
			if (how == 'throw') throw new Error('handler threw');
			await Promise.resolve();
			throw new Error('handler rejected');
		});
		server.sockets.on(ReplyThenThrow, (_connection, _data, reply) => {
			reply('first answer');
			throw new Error('after the reply');
		});
		const peer = await Peer.open(server.url());

		const thrown = await peer.request('explode', { how: 'throw' }, 1);
		expect(thrown.id).toBe(1);
		expect(errorData(thrown)).toEqual({ code: 'internal_error', message: 'Internal error' });
		const rejected = await peer.request('explode', { how: 'reject' }, 2);
		expect(rejected.id).toBe(2);
		expect(errorData(rejected)).toEqual({ code: 'internal_error', message: 'Internal error' });
		// A request is answered once: a handler that replied and then threw is not answered again.
		expect((await peer.request('reply.then.throw', null, 3)).data).toBe('first answer');
		expect((await peer.request('echo', 'alive', 4)).data).toBe('alive');
		expect(peer.envelopes.filter((message) => message.id === 3)).toHaveLength(1);

		expect(reported).toEqual([
			{ id: peer.id, message: 'handler threw' },
			{ id: peer.id, message: 'handler rejected' },
			{ id: peer.id, message: 'after the reply' }
		]);
		expect(peer.isOpen).toBe(true);
		const other = await Peer.open(server.url());
		expect((await other.request('echo', 'new connection', 1)).data).toBe('new connection');
	});
});
