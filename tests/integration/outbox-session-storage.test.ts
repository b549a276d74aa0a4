// The Outbox with a browser's own sessionStorage (jsdom's: the Web Storage API with its quota), on
// real sockets to a runesocket server on 127.0.0.1.
import { describe, expect, it } from 'vitest';
import {
	Ack,
	browserSessionStorage,
	Note,
	openPage,
	reload,
	startEffectServer
} from '../kit/outbox.js';
import { reachState, until, within } from '../kit/wait.js';

describe('Outbox on sessionStorage', () => {
	it('a reload sends what the last page left, once, and its settled promises tell how it ended', async () => {
		const { server, effects, notes } = await startEffectServer();
		const storage = browserSessionStorage();
		const options = { storage };
		const before = openPage(server.url(), options);
		void before.outbox.request(Ack, { op: 'kept' }).catch(() => {});
		before.outbox.emit(Note, { op: 'note' });
		void before.outbox.request(Ack, { op: 'refused', refuse: true }).catch(() => {});
		const keys = before.outbox.entries.map(({ key }) => key);
		expect(JSON.parse(storage.getItem('runesocket:outbox')!).entries).toHaveLength(3);

		const after = reload(before, server.url(), options);
		expect(after.outbox.entries.map(({ key }) => key)).toEqual(keys);
		const [kept, note, refused] = after.outbox.entries;
		after.client.connect();
		expect(await within(kept!.settled, 'the kept request')).toEqual({ op: 'kept', applied: 1 });
		await within(note!.settled, 'the note');
		await expect(refused!.settled).rejects.toMatchObject({ code: 'refused' });
		expect(effects.get('kept')).toBe(1);
		expect(notes).toEqual(['note']);
		expect(storage.getItem('runesocket:outbox')).toBeNull();
		expect(after.drops).toEqual([]);
	});

	it('a request in flight when the page dies goes again after the reload: applied once', async () => {
		const { server, effects, held } = await startEffectServer();
		const storage = browserSessionStorage();
		const before = openPage(server.url(), { storage });
		before.client.connect();
		await reachState(before.client, 'connected');
		void before.outbox.request(Ack, { op: 'flight', hold: true }).catch(() => {});
		await until(() => held.length == 1, 'the handler to start');
		const after = reload(before, server.url(), { storage });
		const [entry] = after.outbox.entries;
		after.client.connect();
		await reachState(after.client, 'connected');
		held[0]!();
		expect(await within(entry!.settled, 'the answer')).toEqual({ op: 'flight', applied: 1 });
		expect(effects.get('flight')).toBe(1);
	});

	it('a storage too small for the entries (jsdom quota) is reported, the request still answered', async () => {
		const { server } = await startEffectServer();
		const storage = browserSessionStorage();
		storage.setItem('filler', 'x'.repeat(5_000_000 - 1_000));
		const { client, outbox, drops } = openPage(server.url(), { storage });
		const answer = outbox.request(Ack, { op: 'y'.repeat(2_000) });
		expect(drops.map(({ reason }) => reason)).toEqual(['storage']);
		client.connect();
		await expect(within(answer, 'the answer')).resolves.toMatchObject({ applied: 1 });
	});
});
