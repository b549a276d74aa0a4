// The Outbox on real sockets: a runesocket server on 127.0.0.1 whose handler counts its effects, a
// SocketClient on `ws`, and storages with the Web Storage API (jsdom's sessionStorage, or a
// Map-backed one where a test needs a storage that fails).
import { describe, expect, it, vi } from 'vitest';
import { Connected, SocketError } from '../../src/lib/index.js';
import { FakeDocument, FakeWindow, PageTransition } from '../kit/page.js';
import {
	Ack,
	MemoryStorage,
	Note,
	openPage,
	quotaExceeded,
	reload,
	startEffectServer
} from '../kit/outbox.js';
import { EngineWithKeys, FaultyRequestKeys } from '../kit/request-keys.js';
import { nextEvent, reachState, until, within } from '../kit/wait.js';

describe('Outbox requests', () => {
	it('a request cut after the server received it is sent again with its key: applied once, answered once', async () => {
		const { server, effects, held, cut } = await startEffectServer();
		const { client, outbox } = openPage(server.url());
		client.connect();
		await reachState(client, 'connected');
		const answered = outbox.request(Ack, { op: 'a', hold: true });
		await until(() => held.length == 1, 'the handler to start');
		const reconnected = nextEvent(client, Connected);
		cut();
		await reconnected;
		// The retry found the key running: it waits for the first run's answer.
		held[0]!();
		expect(await within(answered, 'the answer')).toEqual({ op: 'a', applied: 1 });
		expect(effects.get('a')).toBe(1);
		expect(outbox.entries).toEqual([]);
	});

	it('made while not connected, goes on the first Connected, in the order made', async () => {
		const { server, effects, notes } = await startEffectServer();
		const { client, outbox } = openPage(server.url());
		const first = outbox.request(Ack, { op: '1' });
		outbox.emit(Note, { op: 'n' });
		const second = outbox.request(Ack, { op: '2' });
		expect(outbox.entries.map(({ kind, name }) => `${kind} ${name}`)).toEqual([
			'request incident.ack',
			'message incident.note',
			'request incident.ack'
		]);
		client.connect();
		expect(await within(Promise.all([first, second]), 'both answers')).toEqual([
			{ op: '1', applied: 1 },
			{ op: '2', applied: 1 }
		]);
		expect(notes).toEqual(['n']);
		expect([...effects.keys()]).toEqual(['1', '2']);
	});

	it('past its deadline, rejects with timeout and is reported expired', async () => {
		const { server } = await startEffectServer();
		const { outbox, drops } = openPage(server.url());
		const failure = await outbox.request(Ack, { op: 'late' }, { deadline: 30 }).catch((e) => e);
		expect(failure).toBeInstanceOf(SocketError);
		expect(failure).toMatchObject({ kind: 'timeout' });
		expect(drops.map(({ entry, reason }) => [entry.name, reason])).toEqual([
			['incident.ack', 'expired']
		]);
		expect(outbox.entries).toEqual([]);
	});

	it('a refusal is final: rejects once with the server error, sent once', async () => {
		const { server, effects } = await startEffectServer();
		const { client, outbox, drops } = openPage(server.url());
		client.connect();
		const failure = await outbox.request(Ack, { op: 'r', refuse: true }).catch((e) => e);
		expect(failure).toMatchObject({ kind: 'server', code: 'refused', message: 'r refused' });
		expect(effects.size).toBe(0);
		expect(drops).toEqual([]);
	});

	it('an attempt that times out goes again after a backoff, with the same key', async () => {
		const { server, effects, held } = await startEffectServer();
		const { client, outbox } = openPage(server.url(), {}, { requestTimeout: 50 });
		const attempts = vi.spyOn(client, 'request');
		client.connect();
		const answered = outbox.request(Ack, { op: 't', hold: true });
		await until(() => held.length == 1, 'the handler to start');
		// Each repeat waits on the running key; the client gives up on it first and sends it again.
		await until(() => attempts.mock.calls.length >= 3, 'two attempts more');
		const keys = new Set(attempts.mock.calls.map(([, , options]) => options?.key));
		expect(keys.size).toBe(1);
		held[0]!();
		expect(await within(answered, 'the answer')).toEqual({ op: 't', applied: 1 });
		expect(effects.get('t')).toBe(1);
	});

	it('unavailable (the key store out of reach) goes again after a backoff, until the store is back', async () => {
		const keys = new FaultyRequestKeys();
		let failures = 2;
		keys.claimInstead = () => {
			if (--failures == 0) keys.claimInstead = undefined;
			throw new Error('store down');
		};
		const reported: Error[] = [];
		const { server, effects } = await startEffectServer(
			{ onError: (_connection, error) => void reported.push(error) },
			{ engine: new EngineWithKeys(keys) }
		);
		const { client, outbox } = openPage(server.url());
		const attempts = vi.spyOn(client, 'request');
		client.connect();
		expect(await within(outbox.request(Ack, { op: 'u' }), 'the answer')).toEqual({
			op: 'u',
			applied: 1
		});
		expect(attempts).toHaveBeenCalledTimes(3);
		expect(effects.get('u')).toBe(1);
		expect(reported.map(({ message }) => message)).toEqual(['store down', 'store down']);
	});

	it('rate_limited goes again after a backoff: every request answered, each applied once', async () => {
		const { server, effects } = await startEffectServer({
			rateLimit: { messagesPerSecond: 50, burst: 1, closeAfter: 1_000 }
		});
		const { client, outbox } = openPage(server.url());
		client.connect();
		await reachState(client, 'connected');
		const ops = ['1', '2', '3', '4'];
		const answers = await within(
			Promise.all(ops.map((op) => outbox.request(Ack, { op }))),
			'every answer'
		);
		expect(answers.map((answer) => (answer as { applied: number }).applied)).toEqual([1, 1, 1, 1]);
		expect([...effects.keys()].sort()).toEqual(ops);
	});

	it('a key given twice is one entry: both calls get its answer', async () => {
		const { server, effects } = await startEffectServer();
		const { client, outbox } = openPage(server.url());
		const one = outbox.request(Ack, { op: 'k' }, { key: 'ack:k' });
		const two = outbox.request(Ack, { op: 'k' }, { key: 'ack:k' });
		expect(outbox.entries).toHaveLength(1);
		client.connect();
		expect(await within(Promise.all([one, two]), 'the answers')).toEqual([
			{ op: 'k', applied: 1 },
			{ op: 'k', applied: 1 }
		]);
		expect(effects.get('k')).toBe(1);
		await expect(outbox.request(Ack, { op: 'x' }, { key: '' })).rejects.toThrow(TypeError);
	});
});

describe('Outbox messages', () => {
	it('sent at once while connected, without an entry or a write', async () => {
		const { server, notes } = await startEffectServer();
		const storage = new MemoryStorage();
		const { client, outbox } = openPage(server.url(), { storage });
		client.connect();
		await reachState(client, 'connected');
		outbox.emit(Note, { op: 'now' });
		expect(outbox.entries).toEqual([]);
		expect(storage.writes).toBe(0);
		await until(() => notes.length == 1, 'the note');
	});

	it('made offline, kept through a drop and sent once after the reconnect', async () => {
		const { server, notes, cut } = await startEffectServer();
		const { client, outbox } = openPage(server.url());
		client.connect();
		await reachState(client, 'connected');
		client.disconnect();
		outbox.emit(Note, { op: 'a' });
		outbox.emit(Note, { op: 'b' });
		const [a] = outbox.entries;
		client.connect();
		await within(a!.settled, 'the first note sent');
		await until(() => notes.length == 2, 'both notes');
		cut();
		await nextEvent(client, Connected);
		outbox.emit(Note, { op: 'c' });
		await until(() => notes.length == 3, 'the third note');
		expect(notes).toEqual(['a', 'b', 'c']);
	});
});

describe('Outbox persistence', () => {
	it('restored entries past their deadline are reported expired, after the constructor returned', async () => {
		const { server } = await startEffectServer();
		const storage = new MemoryStorage();
		const before = openPage(server.url(), { storage, deadline: 20 });
		void before.outbox.request(Ack, { op: 'old' }).catch(() => {});
		// The page is gone (its timers with it) while the deadline passes.
		before.outbox.dispose();
		await new Promise((resolve) => setTimeout(resolve, 30));
		const after = reload(before, server.url(), { storage });
		const [entry] = after.outbox.entries;
		await expect(entry!.settled).rejects.toMatchObject({ kind: 'timeout' });
		expect(after.drops.map(({ reason }) => reason)).toEqual(['expired']);
		expect(storage.items.size).toBe(0);
	});
});

describe('Outbox bounds and drops', () => {
	it('refuses past maxEntries and maxBytes, reporting each as overflow', async () => {
		const { server } = await startEffectServer();
		const { outbox, drops } = openPage(server.url(), { maxEntries: 2, maxBytes: 400 });
		void outbox.request(Ack, { op: '1' }).catch(() => {});
		outbox.emit(Note, { op: '2' });
		const third = outbox.request(Ack, { op: '3' });
		await expect(third).rejects.toMatchObject({ kind: 'overflow' });
		outbox.dispose();
		const small = openPage(server.url(), { maxBytes: 200 });
		const big = small.outbox.request(Ack, { op: 'x'.repeat(200) });
		await expect(big).rejects.toMatchObject({ kind: 'overflow' });
		expect(drops.map(({ reason }) => reason)).toEqual(['overflow']);
		expect(small.drops.map(({ entry, reason }) => [entry.name, reason])).toEqual([
			['incident.ack', 'overflow']
		]);
	});

	it('a storage that refuses a write is reported once per entry; the entries go on from memory', async () => {
		const { server, effects } = await startEffectServer();
		const storage = new MemoryStorage();
		const { client, outbox, drops } = openPage(server.url(), { storage });
		void outbox.request(Ack, { op: 'stored' }).catch(() => {});
		storage.failure = quotaExceeded();
		const unstored = outbox.request(Ack, { op: 'unstored' });
		outbox.emit(Note, { op: 'n' });
		// Emptied, so that a reload would not send again what settles meanwhile.
		expect(storage.items.size).toBe(0);
		expect(drops.map(({ entry, reason }) => [entry.kind, reason])).toEqual([
			['request', 'storage'],
			['request', 'storage'],
			['message', 'storage']
		]);
		storage.failure = undefined;
		client.connect();
		expect(await within(unstored, 'the answer')).toEqual({ op: 'unstored', applied: 1 });
		await until(() => effects.get('stored') == 1, 'the stored request');
		expect(storage.items.size).toBe(0);
	});
});

describe('Outbox and the page', () => {
	it('a page frozen in the back/forward cache and restored sends each entry once', async () => {
		const { server, effects, notes, held } = await startEffectServer();
		const window = new FakeWindow();
		const document = new FakeDocument();
		const { client, outbox } = openPage(server.url(), {}, { window, document });
		client.connect();
		await reachState(client, 'connected');
		const inFlight = outbox.request(Ack, { op: 'flight', hold: true });
		await until(() => held.length == 1, 'the handler to start');
		window.dispatchEvent(new PageTransition('pagehide', true));
		await reachState(client, 'disconnected');
		const offline = outbox.request(Ack, { op: 'frozen' });
		outbox.emit(Note, { op: 'frozen' });
		window.dispatchEvent(new PageTransition('pageshow', true));
		await nextEvent(client, Connected);
		held[0]!();
		await within(Promise.all([inFlight, offline]), 'both answers');
		await until(() => notes.length == 1, 'the note');
		expect(Object.fromEntries(effects)).toEqual({ flight: 1, frozen: 1 });
		expect(notes).toEqual(['frozen']);
	});

	it('dispose() rejects what is pending with closed and leaves the storage to the next page', async () => {
		const { server } = await startEffectServer();
		const storage = new MemoryStorage();
		const { outbox } = openPage(server.url(), { storage });
		const pending = outbox.request(Ack, { op: 'p' });
		outbox.dispose();
		await expect(pending).rejects.toMatchObject({ kind: 'closed' });
		expect(JSON.parse(storage.items.get('runesocket:outbox')!).entries).toHaveLength(1);
		expect(() => outbox.emit(Note, { op: 'late' })).toThrow('Outbox disposed');
	});
});
