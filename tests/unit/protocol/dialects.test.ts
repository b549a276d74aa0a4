import { describe, expect, it } from 'vitest';
import { PING_FRAME, PONG_FRAME } from '../../../src/lib/protocol/envelope.js';
import {
	eventKeyedDialect,
	typeKeyedDialect,
	type Dialect,
	type InboundMessage
} from '../../../src/lib/index.js';
import { envelopeDialect } from '../../../src/lib/protocol/envelope.js';

const dialects: [string, Dialect][] = [
	['envelopeDialect', envelopeDialect],
	['typeKeyedDialect', typeKeyedDialect],
	['eventKeyedDialect', eventKeyedDialect]
];

/** Decodes a frame that must carry a message. */
function decoded(dialect: Dialect, frame: string): InboundMessage {
	const message = dialect.decode(frame);
	if (message === null) throw new Error(`expected a message from ${frame}, got null`);
	return message;
}

function hasPrototypeKeys(value: unknown): boolean {
	if (typeof value != 'object' || value === null) return false;
	return Object.keys(value).some(
		(key) =>
			key == '__proto__' ||
			key == 'constructor' ||
			key == 'prototype' ||
			hasPrototypeKeys((value as Record<string, unknown>)[key])
	);
}

describe('every dialect', () => {
	describe.each(dialects)('%s', (_, dialect) => {
		it('throws a SyntaxError on a frame that is not JSON', () => {
			expect(() => dialect.decode('{not json')).toThrow(SyntaxError);
			expect(() => dialect.decode('')).toThrow(SyntaxError);
			expect(() => dialect.decode('hello')).toThrow(SyntaxError);
		});

		it.each(['[]', '[{"name":"a","type":"a","event":"a"}]', 'null', '42', '"text"', 'true'])(
			'throws a TypeError on a JSON frame that is not an object: %s',
			(frame) => {
				expect(() => dialect.decode(frame)).toThrow(TypeError);
			}
		);

		it('throws a TypeError on an object without the key naming the message', () => {
			expect(() => dialect.decode('{"data":{"a":1}}')).toThrow(TypeError);
			expect(() => dialect.decode('{}')).toThrow(TypeError);
		});

		it('leaves Object.prototype alone whatever the frame holds', () => {
			const frames = [
				'{"name":"x","type":"x","event":"x","__proto__":{"polluted":1}}',
				'{"name":"x","type":"x","event":"x","data":{"constructor":{"prototype":{"polluted":1}}}}'
			];
			for (const frame of frames) {
				const message = decoded(dialect, frame);
				expect(hasPrototypeKeys(message)).toBe(false);
				expect(Object.getPrototypeOf(message.data ?? {})).toBe(Object.prototype);
			}
			expect(({} as Record<string, unknown>).polluted).toBeUndefined();
		});

		it('round-trips a join and a leave to different frames naming the room', () => {
			const join = dialect.join('room:1');
			const leave = dialect.leave('room:1');
			expect(join).not.toBe(leave);
			expect(join).toContain('room:1');
			expect(leave).toContain('room:1');
		});
	});
});

describe('envelopeDialect', () => {
	it('pings with "2" and decodes the "3" pong to null', () => {
		expect(envelopeDialect.ping).toBe('2');
		expect(envelopeDialect.ping).toBe(PING_FRAME);
		expect(envelopeDialect.decode('3')).toBeNull();
		expect(envelopeDialect.decode(PONG_FRAME)).toBeNull();
	});

	it('decodes {name, data, timestamp, room, id} as is', () => {
		const frame = JSON.stringify({
			name: 'incident.created',
			data: { uuid: 'a1', tags: ['db'] },
			timestamp: 1_700_000_000_000,
			room: 'account:42',
			id: 7
		});
		expect(decoded(envelopeDialect, frame)).toEqual({
			name: 'incident.created',
			data: { uuid: 'a1', tags: ['db'] },
			timestamp: 1_700_000_000_000,
			room: 'account:42',
			id: 7
		});
	});

	it('decodes an envelope with only a name', () => {
		expect(decoded(envelopeDialect, '{"name":"connected"}')).toEqual({ name: 'connected' });
	});

	it('throws a TypeError on an envelope whose name is not a string', () => {
		expect(() => envelopeDialect.decode('{"name":5,"data":1}')).toThrow(TypeError);
		expect(() => envelopeDialect.decode('{"name":null}')).toThrow(/string "name"/);
		// Other dialects' shapes are not envelopes.
		expect(() => envelopeDialect.decode('{"type":"alert"}')).toThrow(TypeError);
		expect(() => envelopeDialect.decode('{"event":"alert"}')).toThrow(TypeError);
		// "2" is our ping, not a pong: it is a JSON number, not an object.
		expect(() => envelopeDialect.decode('2')).toThrow(TypeError);
	});

	it('drops polluting keys at any depth of the data', () => {
		const message = decoded(
			envelopeDialect,
			'{"name":"x","__proto__":{"admin":true},"data":{"a":1,"__proto__":{"admin":true},"list":[{"constructor":{"prototype":{}},"b":2}]}}'
		);
		expect(message).toEqual({ name: 'x', data: { a: 1, list: [{ b: 2 }] } });
		expect(Object.hasOwn(message, '__proto__')).toBe(false);
		expect((message as unknown as Record<string, unknown>).admin).toBeUndefined();
	});

	it('encodes {name, data, id?} as JSON', () => {
		expect(envelopeDialect.encode({ name: 'typing', data: { user: 'ada' } })).toBe(
			'{"name":"typing","data":{"user":"ada"}}'
		);
		expect(envelopeDialect.encode({ name: 'incident.create', data: { title: 'DB' }, id: 7 })).toBe(
			'{"name":"incident.create","data":{"title":"DB"},"id":7}'
		);
	});

	it('authenticates with an auth message carrying the token', () => {
		expect(envelopeDialect.auth?.('tok.en')).toBe('{"name":"auth","data":{"token":"tok.en"}}');
	});

	it('joins and leaves rooms with room.join / room.leave messages', () => {
		expect(envelopeDialect.join('account:42')).toBe(
			'{"name":"room.join","data":{"room":"account:42"}}'
		);
		expect(envelopeDialect.leave('account:42')).toBe(
			'{"name":"room.leave","data":{"room":"account:42"}}'
		);
	});

	it('escapes room names and tokens as JSON strings', () => {
		expect(JSON.parse(envelopeDialect.join('a"b\\c'))).toEqual({
			name: 'room.join',
			data: { room: 'a"b\\c' }
		});
		expect(JSON.parse(envelopeDialect.auth?.('"},"x":1') ?? '')).toEqual({
			name: 'auth',
			data: { token: '"},"x":1' }
		});
	});
});

describe('typeKeyedDialect', () => {
	it('pings with {"type":"ping"} and decodes {"type":"pong"} to null', () => {
		expect(typeKeyedDialect.ping).toBe('{"type":"ping"}');
		expect(typeKeyedDialect.decode('{"type":"pong"}')).toBeNull();
		expect(typeKeyedDialect.decode('{"type":"pong","at":1}')).toBeNull();
	});

	it('decodes a message as its type, with the fields beside the type as data', () => {
		const message = decoded(typeKeyedDialect, '{"type":"alert","severity":"high","count":2}');
		expect(message.name).toBe('alert');
		expect(message.data).toEqual({ severity: 'high', count: 2 });
		expect(message.id).toBeUndefined();
		expect(message.timestamp).toBeUndefined();
	});

	it('decodes a server heartbeat as a message (it counts as liveness)', () => {
		expect(decoded(typeKeyedDialect, '{"type":"heartbeat"}')).toMatchObject({
			name: 'heartbeat',
			data: {}
		});
	});

	it.each(['reply', 'error'])('carries the numeric id of a %s', (type) => {
		const message = decoded(typeKeyedDialect, `{"type":"${type}","id":12,"message":"done"}`);
		expect(message.name).toBe(type);
		expect(message.id).toBe(12);
		expect(message.data).toMatchObject({ message: 'done' });
	});

	it('ignores an id that is not a number', () => {
		expect(decoded(typeKeyedDialect, '{"type":"reply","id":"12"}').id).toBeUndefined();
		expect(decoded(typeKeyedDialect, '{"type":"reply","id":null}').id).toBeUndefined();
	});

	it('throws a TypeError when "type" is missing or not a string', () => {
		expect(() => typeKeyedDialect.decode('{"severity":"high"}')).toThrow(TypeError);
		expect(() => typeKeyedDialect.decode('{"type":3}')).toThrow(/string "type"/);
		expect(() => typeKeyedDialect.decode('{"name":"alert"}')).toThrow(TypeError);
	});

	it('drops polluting keys from the data', () => {
		const message = decoded(
			typeKeyedDialect,
			'{"type":"alert","__proto__":{"admin":true},"constructor":{"prototype":1},"nested":{"prototype":2,"ok":3}}'
		);
		expect(message.data).toEqual({ nested: { prototype: 2, ok: 3 } });
		expect(Object.getPrototypeOf(message.data)).toBe(Object.prototype);
		expect((message.data as Record<string, unknown>).admin).toBeUndefined();
	});

	it('encodes an object message as its fields beside the type', () => {
		expect(
			JSON.parse(typeKeyedDialect.encode({ name: 'alert', data: { severity: 'high' } }))
		).toEqual({ severity: 'high', type: 'alert' });
		expect(
			JSON.parse(typeKeyedDialect.encode({ name: 'incident.create', data: { title: 'x' }, id: 4 }))
		).toEqual({ title: 'x', type: 'incident.create', id: 4 });
	});

	it('lets the message name win over a "type" field in the data', () => {
		expect(JSON.parse(typeKeyedDialect.encode({ name: 'alert', data: { type: 'spoof' } }))).toEqual(
			{ type: 'alert' }
		);
	});

	it('wraps data that is not an object under "data"', () => {
		expect(JSON.parse(typeKeyedDialect.encode({ name: 'count', data: 3 }))).toEqual({
			data: 3,
			type: 'count'
		});
		expect(JSON.parse(typeKeyedDialect.encode({ name: 'list', data: [1, 2] }))).toEqual({
			data: [1, 2],
			type: 'list'
		});
		expect(JSON.parse(typeKeyedDialect.encode({ name: 'none', data: null }))).toEqual({
			data: null,
			type: 'none'
		});
	});

	it('sends the bare token as the auth frame', () => {
		expect(typeKeyedDialect.auth?.('tok.en')).toBe('tok.en');
	});

	it('subscribes and unsubscribes channels', () => {
		expect(typeKeyedDialect.join('updates')).toBe('{"type":"subscribe","channel":"updates"}');
		expect(typeKeyedDialect.leave('updates')).toBe('{"type":"unsubscribe","channel":"updates"}');
	});
});

describe('eventKeyedDialect', () => {
	it('pings with {"type":"ping"} and decodes {"type":"pong"} to null', () => {
		expect(eventKeyedDialect.ping).toBe('{"type":"ping"}');
		expect(eventKeyedDialect.decode('{"type":"pong"}')).toBeNull();
	});

	it('decodes {event, data, timestamp} with an ISO timestamp into ms since the epoch', () => {
		const message = decoded(
			eventKeyedDialect,
			'{"event":"order.updated","data":{"id":9,"status":"paid"},"timestamp":"2024-03-01T12:30:00.250Z"}'
		);
		expect(message).toEqual({
			name: 'order.updated',
			data: { id: 9, status: 'paid' },
			timestamp: Date.UTC(2024, 2, 1, 12, 30, 0, 250)
		});
		expect(typeof message.timestamp).toBe('number');
	});

	it('honours the offset of an ISO timestamp', () => {
		const message = decoded(
			eventKeyedDialect,
			'{"event":"e","data":null,"timestamp":"2024-03-01T14:30:00+02:00"}'
		);
		expect(message.timestamp).toBe(Date.UTC(2024, 2, 1, 12, 30));
	});

	it('keeps a numeric timestamp and leaves a missing one undefined', () => {
		expect(decoded(eventKeyedDialect, '{"event":"e","timestamp":1700000000000}').timestamp).toBe(
			1_700_000_000_000
		);
		const bare = decoded(eventKeyedDialect, '{"event":"e","data":[1]}');
		expect(bare.timestamp).toBeUndefined();
		expect(bare.data).toEqual([1]);
	});

	it('decodes control messages by type, with the other fields as data', () => {
		expect(decoded(eventKeyedDialect, '{"type":"connected","user":"ada","session":3}')).toEqual({
			name: 'connected',
			data: { user: 'ada', session: 3 }
		});
		expect(decoded(eventKeyedDialect, '{"type":"error","message":"denied"}')).toEqual({
			name: 'error',
			data: { message: 'denied' }
		});
	});

	it('prefers "event" over "type" when a frame has both', () => {
		expect(decoded(eventKeyedDialect, '{"event":"e","type":"pong","data":1}')).toMatchObject({
			name: 'e',
			data: 1
		});
	});

	it('throws a TypeError with neither a string "event" nor a string "type"', () => {
		expect(() => eventKeyedDialect.decode('{"data":{}}')).toThrow(/neither "event" nor "type"/);
		expect(() => eventKeyedDialect.decode('{"event":1,"type":2}')).toThrow(TypeError);
		expect(() => eventKeyedDialect.decode('{"name":"e"}')).toThrow(TypeError);
	});

	it('drops polluting keys from event data and control fields', () => {
		const event = decoded(
			eventKeyedDialect,
			'{"event":"e","data":{"__proto__":{"admin":true},"ok":1,"deep":[{"constructor":{"prototype":{}}}]}}'
		);
		expect(event.data).toEqual({ ok: 1, deep: [{}] });
		const control = decoded(eventKeyedDialect, '{"type":"connected","__proto__":{"x":1},"ok":2}');
		expect(control.data).toEqual({ ok: 2 });
		expect(({} as Record<string, unknown>).admin).toBeUndefined();
	});

	it('encodes messages as {event, data, id?}', () => {
		expect(eventKeyedDialect.encode({ name: 'cart.add', data: { sku: 'x' } })).toBe(
			'{"event":"cart.add","data":{"sku":"x"}}'
		);
		expect(eventKeyedDialect.encode({ name: 'cart.add', data: 1, id: 3 })).toBe(
			'{"event":"cart.add","data":1,"id":3}'
		);
	});

	it('sends no auth frame (the server authenticates by cookie)', () => {
		expect(eventKeyedDialect.auth).toBeUndefined();
	});

	it('subscribes and unsubscribes channels', () => {
		expect(eventKeyedDialect.join('order_changes')).toBe(
			'{"type":"subscribe","channel":"order_changes"}'
		);
		expect(eventKeyedDialect.leave('order_changes')).toBe(
			'{"type":"unsubscribe","channel":"order_changes"}'
		);
	});
});
