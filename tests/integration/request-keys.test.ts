// Exactly-once requests, the server's side (PROTOCOL.md, "Exactly-once requests"): a raw client sends
// `{"name","data","key","id"}` over real sockets, and every test counts the handler's runs (its side
// effects) as well as the answers the client got. Only the server's timers are ever faked, to reach
// the 5 s deadlines at once.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { CALLBACK_TIMEOUT_MS } from '../../src/lib/server/callbacks.js';
import type { Reply } from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import { deferred } from '../kit/peers/ws-peer.js';
import {
	answerOf,
	answersOf,
	Apply,
	connectAs,
	EngineWithKeys,
	FaultyRequestKeys,
	sendKeyed,
	serveKeys,
	shape
} from '../kit/request-keys.js';
import type { RunningServer } from '../kit/servers/socket-server.js';
import { until } from '../kit/wait.js';

afterEach(() => {
	vi.useRealTimers();
});

/** A server whose `apply` handler counts its runs and answers with `answer(data, run)`. */
async function counting(
	answer: (data: string, run: number, reply: Reply) => void | Promise<void>,
	route: Parameters<typeof serveKeys>[0] = {},
	engine?: EngineWithKeys
): Promise<{ server: RunningServer; runs: () => number; keys: (string | undefined)[] }> {
	const server = await serveKeys(route, engine);
	let runs = 0;
	const keys: (string | undefined)[] = [];
	server.sockets.on(Apply, (_connection, data, reply) => {
		keys.push(reply.key);
		return answer(data, ++runs, reply);
	});
	return { server, runs: () => runs, keys };
}

/** A `counting` server whose handler answers `{data, run}` once the test opens its gate. */
async function gated() {
	const gate = deferred();
	const counted = await counting(async (data, run, reply) => {
		await gate.promise;
		reply({ data, run });
	});
	return { ...counted, open: () => gate.resolve() };
}

function codeOf(answer: { name: string; data: unknown }): string {
	expect(answer.name).toBe('error');
	return (answer.data as { code: string }).code;
}

describe('a key runs its handlers once', () => {
	it('answers a repeat with the first answer, on the same connection and on another of the user', async () => {
		const { server, runs, keys } = await counting((data, run, reply) => reply({ data, run }));
		const tab = await connectAs(server, 'ada');
		sendKeyed(tab, 'k1', 1, 'first');
		expect(shape(await answerOf(tab, 1))).toEqual(['reply', { data: 'first', run: 1 }]);
		sendKeyed(tab, 'k1', 2, 'changed');
		expect(shape(await answerOf(tab, 2))).toEqual(['reply', { data: 'first', run: 1 }]);
		const other = await connectAs(server, 'ada');
		sendKeyed(other, 'k1', 1);
		expect(shape(await answerOf(other, 1))).toEqual(['reply', { data: 'first', run: 1 }]);
		// Another user's key of the same name is theirs; a request without a key always runs.
		const bob = await connectAs(server, 'bob');
		sendKeyed(bob, 'k1', 1);
		tab.send({ name: 'apply', data: 'plain', id: 3 });
		expect(shape(await answerOf(bob, 1))).toEqual(['reply', { data: 'x', run: 2 }]);
		expect(shape(await answerOf(tab, 3))).toEqual(['reply', { data: 'plain', run: 3 }]);
		expect(runs()).toBe(3);
		expect(keys).toEqual(['k1', 'k1', undefined]);
		expect(server.sockets.metricsSnapshot().requestRepeats).toEqual({ '/ws': { answered: 2 } });
		expect(server.sockets.metrics()).toContain(
			'runesocket_request_repeats_total{route="/ws",outcome="answered"} 2\n'
		);
	});

	it("keeps error answers too: a handler's refusal, invalid_data and internal_error", async () => {
		const server = await serveKeys({ onError: () => {} });
		let runs = 0;
		server.sockets.on(ClientMessage.define('strict', z.number()), (_connection, data, reply) => {
			runs++;
			if (data == 1) return reply.error('conflict', 'Resolved by someone else');
			throw new Error('handler failed');
		});
		const tab = await connectAs(server, 'ada');
		const send = (key: string, data: unknown, id: number) =>
			tab.send({ name: 'strict', data, key, id });
		send('refused', 1, 1);
		send('invalid', 'not a number', 2);
		send('failed', 2, 3);
		const first = await Promise.all([1, 2, 3].map((id) => answerOf(tab, id)));
		expect(first.map(codeOf)).toEqual(['conflict', 'invalid_data', 'internal_error']);
		send('refused', 2, 4);
		send('invalid', 2, 5);
		send('failed', 1, 6);
		const repeats = await Promise.all([4, 5, 6].map((id) => answerOf(tab, id)));
		expect(repeats.map(shape)).toEqual(first.map(shape));
		expect(runs).toBe(2);
	});

	it('answers a repeat that comes while the handler runs with its answer, on any connection of the user', async () => {
		const { server, runs, open } = await gated();
		const tab = await connectAs(server, 'ada');
		const other = await connectAs(server, 'ada');
		sendKeyed(tab, 'k', 1);
		await until(() => runs() == 1, 'the handler to start');
		sendKeyed(tab, 'k', 2);
		sendKeyed(other, 'k', 7);
		await tab.roundTrip();
		await other.roundTrip();
		expect(answersOf(tab, 2)).toEqual([]);
		open();
		const answers = await Promise.all([answerOf(tab, 1), answerOf(tab, 2), answerOf(other, 7)]);
		expect(answers.map(shape)).toEqual(Array(3).fill(['reply', { data: 'x', run: 1 }]));
		expect(runs()).toBe(1);
		expect(server.sockets.metricsSnapshot().requestRepeats).toEqual({ '/ws': { waited: 2 } });
	});

	it('has a repeat on another process ask the store again until the answer is there', async () => {
		const shared = new FaultyRequestKeys();
		const gate = deferred();
		let runs = 0;
		const servers = await Promise.all([0, 1].map(() => serveKeys({}, new EngineWithKeys(shared))));
		for (const server of servers) {
			server.sockets.on(Apply, async (_connection, data, reply) => {
				runs++;
				await gate.promise;
				reply({ data, run: runs });
			});
		}
		const [here, there] = await Promise.all(servers.map((server) => connectAs(server, 'ada')));
		sendKeyed(here, 'k', 1);
		await until(() => runs == 1, 'the handler to start');
		sendKeyed(there, 'k', 1);
		await until(
			() => servers[1].sockets.metricsSnapshot().requestRepeats['/ws']?.waited == 1,
			'the repeat to find the key running'
		);
		gate.resolve();
		const answers = await Promise.all([answerOf(here, 1), answerOf(there, 1)]);
		expect(answers.map(shape)).toEqual(Array(2).fill(['reply', { data: 'x', run: 1 }]));
		expect(runs).toBe(1);
	});

	it('gives a retry on a new connection the answer of a request whose connection was cut before it', async () => {
		const { server, runs, open } = await gated();
		const lost = await connectAs(server, 'ada');
		sendKeyed(lost, 'k', 1, 'once');
		await until(() => runs() == 1, 'the server to receive the request');
		lost.socket.terminate();
		await until(() => server.sockets.connections.size == 0, 'the server to see the cut');
		open();
		// The answer was kept though nobody was there to get it.
		const retry = await connectAs(server, 'ada');
		sendKeyed(retry, 'k', 1, 'once');
		expect(shape(await answerOf(retry, 1))).toEqual(['reply', { data: 'once', run: 1 }]);
		expect(runs()).toBe(1);
	});

	it('keeps the late answer of a request answered no_reply: a repeat waits for it, a later one gets it', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const reported: string[] = [];
		let late: Reply | undefined;
		const { server, runs } = await counting((_data, _run, reply) => void (late = reply), {
			onError: (_connection, error) => reported.push(error.message)
		});
		const tab = await connectAs(server, 'ada');
		sendKeyed(tab, 'k', 1);
		await until(() => runs() == 1, 'the handler to start');
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS);
		expect(codeOf(await answerOf(tab, 1))).toBe('no_reply');
		sendKeyed(tab, 'k', 2);
		await tab.roundTrip();
		late?.('late');
		expect(shape(await answerOf(tab, 2))).toEqual(['reply', 'late']);
		sendKeyed(tab, 'k', 3);
		expect(shape(await answerOf(tab, 3))).toEqual(['reply', 'late']);
		expect(answersOf(tab, 1)).toHaveLength(1);
		expect(runs()).toBe(1);
		expect(reported.at(-1)).toMatch(/its later reply was dropped \(kept for its key/);
	});

	it('answers no_reply to a repeat whose first attempt is still running after 5 s, and runs it once its lease is out', async () => {
		// The store's lease runs on the clock too.
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
		const { server, runs } = await counting(
			(data, run, reply) => void (run > 1 && reply({ data, run })),
			{ requestKeys: { lease: 8_000 }, onError: () => {} }
		);
		const tab = await connectAs(server, 'ada');
		sendKeyed(tab, 'k', 1);
		await until(() => runs() == 1, 'the handler to start');
		sendKeyed(tab, 'k', 2);
		await tab.roundTrip();
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS);
		expect(codeOf(await answerOf(tab, 1))).toBe('no_reply');
		expect(codeOf(await answerOf(tab, 2))).toBe('no_reply');
		vi.advanceTimersByTime(3_000);
		sendKeyed(tab, 'k', 3);
		expect(shape(await answerOf(tab, 3))).toEqual(['reply', { data: 'x', run: 2 }]);
	});
});

describe('what a route keeps', () => {
	it('forgets the oldest answers past maxKeys, and keeps an answer past maxBytes as answer_not_kept', async () => {
		const { server, runs } = await counting((data, run, reply) => reply(data.repeat(run)), {
			requestKeys: { maxKeys: 2, maxBytes: 100 }
		});
		const tab = await connectAs(server, 'ada');
		for (const [id, key] of ['a', 'b', 'c'].entries()) {
			sendKeyed(tab, key, id + 1);
			await answerOf(tab, id + 1);
		}
		sendKeyed(tab, 'a', 4);
		expect(shape(await answerOf(tab, 4))).toEqual(['reply', 'xxxx']);
		expect(runs()).toBe(4);

		sendKeyed(tab, 'big', 5, 'y'.repeat(30));
		expect(shape(await answerOf(tab, 5))).toEqual(['reply', 'y'.repeat(150)]);
		sendKeyed(tab, 'big', 6);
		expect(codeOf(await answerOf(tab, 6))).toBe('answer_not_kept');
		expect(runs()).toBe(5);
	});

	it('scopes an anonymous connection to itself, unless the route names a scope', async () => {
		const { server, runs } = await counting((_data, run, reply) => reply(run));
		const first = await connectAs(server);
		const second = await connectAs(server);
		sendKeyed(first, 'k', 1);
		sendKeyed(first, 'k', 2);
		sendKeyed(second, 'k', 1);
		const answers = await Promise.all([
			answerOf(first, 1),
			answerOf(first, 2),
			answerOf(second, 1)
		]);
		expect(answers.map((answer) => answer.data).sort()).toEqual([1, 1, 2]);
		expect(runs()).toBe(2);

		const shared = await counting((_data, run, reply) => reply(run), {
			requestKeys: { scope: (connection) => String(connection.req.headers['x-device']) }
		});
		const one = await connectAs(shared.server);
		const two = await connectAs(shared.server);
		sendKeyed(one, 'k', 1);
		expect((await answerOf(one, 1)).data).toBe(1);
		sendKeyed(two, 'k', 1);
		expect((await answerOf(two, 1)).data).toBe(1);
		expect(shared.runs()).toBe(1);
	});

	it('ignores keys on a route with requestKeys: false', async () => {
		const { server, runs, keys } = await counting((_data, run, reply) => reply(run), {
			requestKeys: false
		});
		const tab = await connectAs(server, 'ada');
		sendKeyed(tab, 'k', 1);
		sendKeyed(tab, 'k', 2);
		expect([(await answerOf(tab, 1)).data, (await answerOf(tab, 2)).data]).toEqual([1, 2]);
		expect(runs()).toBe(2);
		expect(keys).toEqual([undefined, undefined]);
	});

	it('refuses a route whose requestKeys limits are not numbers from 0 up', async () => {
		await expect(serveKeys({ requestKeys: { window: -1 } })).rejects.toThrow(
			'Route /ws: requestKeys.window must be 0 to 2147483647 ms, not -1'
		);
		await expect(serveKeys({ requestKeys: { maxBytes: NaN } })).rejects.toThrow(
			'requestKeys.maxBytes must be a number from 0 up'
		);
	});
});

describe('keys the server refuses or ignores', () => {
	it('answers malformed a key without an id or that is not a 1..64-character string, and runs nothing', async () => {
		const { server, runs } = await counting((_data, run, reply) => reply(run));
		const tab = await connectAs(server, 'ada');
		tab.send({ name: 'apply', data: 'x', key: 'k' });
		for (const [id, key] of [
			[1, ''],
			[2, 'k'.repeat(65)],
			[3, 42],
			[4, null]
		] as const) {
			sendKeyed(tab, key, id);
		}
		sendKeyed(tab, 'k'.repeat(64), 5);
		const refusals = await Promise.all([1, 2, 3, 4].map((id) => answerOf(tab, id)));
		expect(refusals.map(codeOf)).toEqual(Array(4).fill('malformed'));
		expect((refusals[0].data as { message: string }).message).toBe(
			'"key" must be a string of 1 to 64 characters'
		);
		expect((await answerOf(tab, 5)).data).toBe(1);
		const withoutId = tab.messages.find(
			(message) => message.name == 'error' && message.id === undefined
		);
		expect(withoutId?.data).toMatchObject({
			code: 'malformed',
			message: expect.stringMatching(/needs a request id/)
		});
		expect(runs()).toBe(1);
	});

	it('ignores keys on protocol requests, and answers unknown names as ever', async () => {
		const server = await serveKeys();
		const tab = await connectAs(server, 'ada');
		tab.send({ name: 'room.join', data: { room: 'r' }, key: 'k', id: 1 });
		tab.send({ name: 'room.leave', data: { room: 'r' }, key: 'k', id: 2 });
		tab.send({ name: 'room.leave', data: { room: 'r' }, key: 'k', id: 3 });
		tab.send({ name: 'nobody.handles', data: null, key: 'k', id: 4 });
		await tab.nextMessage('room.joined');
		const left = await Promise.all([answerOf(tab, 2), answerOf(tab, 3)]);
		expect(left.map(shape)).toEqual(Array(2).fill(['reply', { room: 'r' }]));
		expect(codeOf(await answerOf(tab, 4))).toBe('unknown_message');
		// A type-keyed frame (another dialect's) is no runesocket request, key or not.
		tab.send({ type: 'apply', key: 'k', id: 5 });
		expect(codeOf(await answerOf(tab, 5))).toBe('malformed');
	});
});

describe('a request-key store out of reach', () => {
	it('answers unavailable and runs nothing when claim throws or rejects, and sends the answer when settle fails', async () => {
		const store = new FaultyRequestKeys();
		const reported: string[] = [];
		const { server, runs } = await counting(
			(_data, run, reply) => reply(run),
			{ onError: (_connection, error) => reported.push(error.message) },
			new EngineWithKeys(store)
		);
		const tab = await connectAs(server, 'ada');
		store.claimInstead = () => {
			throw new Error('store down');
		};
		sendKeyed(tab, 'k', 1);
		expect(codeOf(await answerOf(tab, 1))).toBe('unavailable');
		store.claimInstead = () => Promise.reject(new Error('store still down'));
		sendKeyed(tab, 'k', 2);
		expect(codeOf(await answerOf(tab, 2))).toBe('unavailable');
		expect(runs()).toBe(0);

		store.claimInstead = undefined;
		store.settleInstead = () => Promise.reject(new Error('settle failed'));
		sendKeyed(tab, 'k', 3);
		expect((await answerOf(tab, 3)).data).toBe(1);
		await until(() => reported.includes('settle failed'), 'the failed settle reported');
		expect(reported.slice(0, 2)).toEqual(['store down', 'store still down']);
		expect(server.sockets.metricsSnapshot().requestKeysUnavailable).toEqual({ '/ws': 2 });
		expect(server.sockets.metrics()).toContain(
			'runesocket_request_keys_unavailable_total{route="/ws"} 2\n'
		);
	});

	it("sends the answer at once when settle hangs, and reports it; answers internal_error when the route's scope throws", async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const store = new FaultyRequestKeys();
		store.settleInstead = () => new Promise(() => {});
		const reported: string[] = [];
		const { server, runs } = await counting(
			(_data, run, reply) => reply(run),
			{
				onError: (_connection, error) => reported.push(error.message),
				requestKeys: {
					scope: (connection) => {
						if (connection.req.headers['x-user'] == 'broken') throw new Error('no scope');
						return undefined;
					}
				}
			},
			new EngineWithKeys(store)
		);
		const tab = await connectAs(server, 'ada');
		sendKeyed(tab, 'k', 1);
		expect((await answerOf(tab, 1)).data).toBe(1);
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS);
		await until(() => reported.length > 0, 'the hung settle reported');
		expect(reported).toEqual([
			`the engine's requestKeys.settle did not answer within ${CALLBACK_TIMEOUT_MS} ms`
		]);
		const broken = await connectAs(server, 'broken');
		sendKeyed(broken, 'k', 1);
		expect(codeOf(await answerOf(broken, 1))).toBe('internal_error');
		expect(reported.at(-1)).toBe('no scope');
		expect(runs()).toBe(1);
	});

	it('answers unavailable when claim hangs past 5 s, and gives back a claim that comes after all', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const store = new FaultyRequestKeys();
		const hanging = deferred<{ state: 'claimed' }>();
		store.claimInstead = () => hanging.promise;
		const { server, runs } = await counting(
			(_data, run, reply) => reply(run),
			{ onError: () => {} },
			new EngineWithKeys(store)
		);
		const tab = await connectAs(server, 'ada');
		sendKeyed(tab, 'k', 1);
		await tab.roundTrip();
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS - 1);
		await tab.roundTrip();
		expect(answersOf(tab, 1)).toEqual([]);
		vi.advanceTimersByTime(1);
		expect(codeOf(await answerOf(tab, 1))).toBe('unavailable');
		hanging.resolve({ state: 'claimed' });
		await until(() => store.released.includes('k'), 'the late claim given back');
		expect(runs()).toBe(0);
	});
});
