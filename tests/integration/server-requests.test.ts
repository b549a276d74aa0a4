// Issue 17: PROTOCOL.md promises every request "is answered exactly once" (item 16), and the replies
// to requests accepted just before the server closes a connection could be lost (item 23, server
// part). Each test here failed before its fix. Only the server's timers are ever faked, to reach the
// 5 s reply deadline at once.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { CALLBACK_TIMEOUT_MS } from '../../src/lib/server/callbacks.js';
import { type Reply, type RouteOptions, type SocketServer } from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import { connectRaw, deferred, type WsPeer } from '../kit/peers/ws-peer.js';
import type { Envelope } from '../kit/envelope.js';
import { Opcode, RawClient } from '../kit/peers/raw-frames.js';
import { startSocketServer, type RunningServer } from '../kit/servers/socket-server.js';
import { within } from '../kit/wait.js';

afterEach(() => {
	vi.useRealTimers();
});

/** Answers with its data at once: a request to it is a barrier behind every earlier answer. */
const Echo = ClientMessage.define<unknown>('echo');

function route(options: Partial<RouteOptions> = {}): RouteOptions {
	return { path: '/ws', origins: 'any', ...options };
}

async function serve(options: Partial<RouteOptions> = {}): Promise<RunningServer> {
	const server = await startSocketServer({ routes: [route(options)] });
	server.sockets.on(Echo, (_connection, data, reply) => reply(data));
	return server;
}

async function connected(server: RunningServer): Promise<WsPeer> {
	const client = await connectRaw(server.url());
	await client.nextMessage('connected');
	return client;
}

function isAnswer(message: Envelope): boolean {
	return message.name == 'reply' || message.name == 'error';
}

/** Every answer (`reply` or `error`) `client` received for request `id`. */
function answersTo(client: WsPeer, id: number): Envelope[] {
	return client.messages.filter((message) => message.id === id && isAnswer(message));
}

/** The first answer to request `id`, waiting for it. */
function answerTo(client: WsPeer, id: number): Promise<Envelope> {
	return within(
		(async () => {
			for (;;) {
				const [found] = answersTo(client, id);
				if (found) return found;
				await client.waitForMessages(client.messages.length + 1, 60_000);
			}
		})(),
		`the answer to request ${id}`
	);
}

/** Resolves once everything the server queued for `client` before now has arrived. */
async function barrier(client: WsPeer, id: number): Promise<void> {
	client.send({ name: 'echo', data: 'barrier', id });
	await answerTo(client, id);
}

function errorCode(message: Envelope): string {
	expect(message.name).toBe('error');
	return (message.data as { code: string }).code;
}

/** Resolves once the server has decided to close its only connection. */
async function closeDecided(sockets: SocketServer): Promise<void> {
	const [connection] = sockets.connections;
	await within(
		(async () => {
			while (connection.isOpen) await new Promise((resolve) => setImmediate(resolve));
		})(),
		'the server to decide the close'
	);
}

describe('every request is answered exactly once (item 16)', () => {
	it('answers no_reply when no handler replied within the deadline, and drops a later reply', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const reported: string[] = [];
		const server = await serve({ onError: (_connection, error) => reported.push(error.message) });
		let kept: Reply | undefined;
		server.sockets.on(ClientMessage.define<null>('forgetful'), (_connection, _data, reply) => {
			kept = reply;
		});
		const client = await connected(server);
		client.send({ name: 'forgetful', data: null, id: 1 });
		await barrier(client, 2);
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS - 1);
		await barrier(client, 3);
		expect(answersTo(client, 1)).toEqual([]);

		vi.advanceTimersByTime(1);
		expect(errorCode(await answerTo(client, 1))).toBe('no_reply');
		expect(kept?.sent).toBe(true);
		kept?.('too late');
		await barrier(client, 4);
		expect(answersTo(client, 1)).toHaveLength(1);
		// The barriers, answered in time, get no second answer when their deadline passes.
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS);
		await barrier(client, 5);
		for (const id of [2, 3, 4]) expect(answersTo(client, id)).toHaveLength(1);
		expect(reported).toEqual([
			`No handler answered request 1 ("forgetful") within ${CALLBACK_TIMEOUT_MS} ms: answered no_reply`,
			`Request 1 ("forgetful") was answered no_reply after ${CALLBACK_TIMEOUT_MS} ms: its later reply was dropped`
		]);
		expect(server.sockets.metricsSnapshot().requestsUnanswered).toBe(1);
	});

	it("answers requests only the route's onMessage sees: its reply, a reply it wrote itself, or no_reply", async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const reported: string[] = [];
		const server = await serve({
			onError: (_connection, error) => reported.push(error.message),
			onMessage: (connection, message, reply) => {
				if (message.name == 'ask') reply({ asked: message.data });
				if (message.name == 'write.own') {
					connection.send({ name: 'reply', data: 'own', id: message.id, timestamp: Date.now() });
				}
				if (message.name == 'fail') throw new Error('onMessage failed');
			}
		});
		const client = await connected(server);
		client.send({ name: 'ask', data: 'a', id: 1 });
		client.send({ name: 'ignore', data: null, id: 2 });
		client.send({ name: 'write.own', data: null, id: 3 });
		client.send({ name: 'fail', data: null, id: 4 });
		client.send({ name: 'x'.repeat(10_000), data: null, id: 6 });
		expect(await answerTo(client, 1)).toMatchObject({ name: 'reply', data: { asked: 'a' } });
		expect(await answerTo(client, 3)).toMatchObject({ name: 'reply', data: 'own' });
		expect(errorCode(await answerTo(client, 4))).toBe('internal_error');
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS);
		expect(errorCode(await answerTo(client, 2))).toBe('no_reply');
		expect(errorCode(await answerTo(client, 6))).toBe('no_reply');
		await barrier(client, 5);
		for (const id of [1, 2, 3, 4, 6]) expect(answersTo(client, id)).toHaveLength(1);
		// The report names the request, but a name the client made up only so far.
		expect(reported.filter((message) => message.startsWith('No handler answered'))).toHaveLength(2);
		expect(Math.max(...reported.map((message) => message.length))).toBeLessThan(200);
	});

	it('answers an auth request: a reply after connected on a first-message route, then as a refresh; malformed where no token is expected', async () => {
		const server = await serve({
			firstMessageAuth: { verify: (token) => ({ success: token == 'good', data: { token } }) }
		});
		const client = await connectRaw(server.url());
		client.send({ name: 'auth', data: { token: 'good' }, id: 1 });
		const connectedAt = client.messages.length;
		await client.nextMessage('connected');
		expect(await answerTo(client, 1)).toMatchObject({ name: 'reply', data: null });
		expect(client.messages.findIndex((message) => message.id === 1)).toBeGreaterThan(connectedAt);

		// Once authenticated, a token is a refreshed one (token-refresh.test.ts): verified and answered.
		client.send({ name: 'auth', data: { token: 'good' }, id: 2 });
		expect(await answerTo(client, 2)).toMatchObject({ name: 'reply', data: null });
		// Sent again without an id it is no request, and stays unanswered.
		client.send({ name: 'auth', data: { token: 'good' } });
		await barrier(client, 3);
		expect(client.messages.filter((message) => message.name == 'error')).toHaveLength(0);

		// A route with no refresh verifier (here: no authentication at all) expects no token.
		const open = await serve();
		const other = await connected(open);
		other.send({ name: 'auth', data: { token: 'x' }, id: 1 });
		const refused = await answerTo(other, 1);
		expect(errorCode(refused)).toBe('malformed');
		expect((refused.data as { message: string }).message).toMatch(/No token is expected/);
	});

	it('answers once when two definitions share a name: one refusing means invalid_data and no handler', async () => {
		const server = await serve();
		const handled: string[] = [];
		const Strict = ClientMessage.define('note', z.string().min(3));
		const Loose = ClientMessage.define<string>('note');
		server.sockets.on(Strict, (_connection, data, reply) => {
			handled.push(`strict ${data}`);
			reply('strict');
		});
		server.sockets.on(Loose, (_connection, data, reply) => {
			handled.push(`loose ${data}`);
			reply('loose');
		});
		const client = await connected(server);
		client.send({ name: 'note', data: 'ab', id: 1 });
		expect(errorCode(await answerTo(client, 1))).toBe('invalid_data');
		client.send({ name: 'note', data: 'abcd', id: 2 });
		expect(await answerTo(client, 2)).toMatchObject({ name: 'reply', data: 'strict' });
		await barrier(client, 3);
		expect(answersTo(client, 1)).toHaveLength(1);
		expect(answersTo(client, 2)).toHaveLength(1);
		expect(handled).toEqual(['strict abcd', 'loose abcd']);
	});
});

describe('replies to requests accepted before the server closes (item 23)', () => {
	const Slow = ClientMessage.define<number>('slow');

	/** A server whose `slow` handler replies once the test releases it. */
	async function slowServer(options: Partial<RouteOptions> = {}) {
		const server = await serve(options);
		const gate = deferred();
		server.sockets.on(Slow, async (_connection, data, reply) => {
			await gate.promise;
			reply(data);
		});
		return { server, release: () => gate.resolve() };
	}

	it('sends the replies of requests accepted before a rate-limit 1008, then the close frame', async () => {
		const { server, release } = await slowServer({
			rateLimit: { messagesPerSecond: 1, burst: 3, closeAfter: 3 }
		});
		// A client on a bare socket: it sees the close frame itself, where it stands among the frames.
		const client = await RawClient.connect(server.port);
		await client.waitForText((text) => text.includes('"connected"'), 'connected');
		for (let id = 1; id <= 3; id++) client.sendText({ name: 'slow', data: id, id });
		for (let flood = 0; flood < 3; flood++) client.sendText('2');
		await closeDecided(server.sockets);
		release();
		expect(await client.waitForClose()).toEqual({ code: 1008, reason: 'Rate limit exceeded' });
		const beforeClose = client.frames.items
			.slice(
				0,
				client.frames.items.findIndex((frame) => frame.opcode == Opcode.Close)
			)
			.map((frame) => frame.payload.toString());
		const replies = beforeClose.filter((text) => text.includes('"name":"reply"'));
		expect(replies.map((text) => (JSON.parse(text) as Envelope).id)).toEqual([1, 2, 3]);
	});

	it("sends a reply that follows the application's own close, and those in flight at a shutdown", async () => {
		const { server, release } = await slowServer();
		server.sockets.on(ClientMessage.define<null>('kick'), (connection, _data, reply) => {
			connection.close(4000, 'Kicked');
			expect(connection.isOpen).toBe(false);
			reply('bye');
		});
		const kicked = await connected(server);
		kicked.send({ name: 'kick', data: null, id: 1 });
		expect(await kicked.closedWithin()).toEqual({ code: 4000, reason: 'Kicked' });
		expect(answersTo(kicked, 1)).toEqual([expect.objectContaining({ data: 'bye' })]);

		const busy = await connected(server);
		busy.send({ name: 'slow', data: 7, id: 7 });
		await barrier(busy, 8);
		const stopped = server.sockets.close();
		await closeDecided(server.sockets);
		release();
		expect(await busy.closedWithin()).toMatchObject({ code: 1001 });
		expect(answersTo(busy, 7)).toEqual([expect.objectContaining({ name: 'reply', data: 7 })]);
		await within(stopped, 'the server to stop');
	});

	it('waits for an unanswered request no longer than its deadline: no_reply, then the close', async () => {
		vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
		const server = await serve({ onError: () => {} });
		server.sockets.on(ClientMessage.define<null>('silent'), () => {});
		const client = await connected(server);
		client.send({ name: 'silent', data: null, id: 1 });
		await barrier(client, 2);
		const [connection] = server.sockets.connections;
		connection.close(1000, 'Done');
		// Nothing but the answer may be sent meanwhile.
		expect(connection.send({ name: 'late.news', data: null })).toBe(false);
		vi.advanceTimersByTime(CALLBACK_TIMEOUT_MS);
		expect(await client.closedWithin()).toEqual({ code: 1000, reason: 'Done' });
		expect(errorCode(answersTo(client, 1)[0])).toBe('no_reply');
		expect(client.messages.some((message) => message.name == 'late.news')).toBe(false);
	});
});
