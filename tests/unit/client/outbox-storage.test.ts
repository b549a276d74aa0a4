import { describe, expect, it } from 'vitest';
import {
	readEntries,
	storedText,
	writeEntries,
	type StoredEntry
} from '../../../src/lib/client/outbox-storage.js';
import { isRequestKey, requestKey } from '../../../src/lib/client/request-key.js';
import { MemoryStorage } from '../../kit/outbox.js';

const entry: StoredEntry = {
	key: 'k1',
	name: 'incident.ack',
	data: { uuid: 'a' },
	kind: 'request',
	createdAt: 1,
	deadline: 2
};

describe('request keys', () => {
	it('are 128 random bits in base64url: 22 characters, fresh every time', () => {
		const keys = Array.from({ length: 1_000 }, requestKey);
		expect(new Set(keys).size).toBe(keys.length);
		for (const key of keys) expect(key).toMatch(/^[A-Za-z0-9_-]{22}$/);
		expect(keys.every(isRequestKey)).toBe(true);
	});

	it('are strings of 1..64 characters', () => {
		expect(['', 'x'.repeat(65), 7, null, undefined].map(isRequestKey)).toEqual([
			false,
			false,
			false,
			false,
			false
		]);
		expect(isRequestKey('x'.repeat(64))).toBe(true);
	});
});

describe('outbox storage', () => {
	it('reads back what it wrote, in order; no entries remove the item', () => {
		const storage = new MemoryStorage();
		const second = { ...entry, key: 'k2', kind: 'message' as const };
		writeEntries(storage, 'box', [storedText(entry), storedText(second)]);
		expect(readEntries(storage, 'box')).toEqual([entry, second]);
		writeEntries(storage, 'box', []);
		expect(storage.items.has('box')).toBe(false);
	});

	it('leaves out what is not an entry, and reads nothing from text that is not its own', () => {
		const storage = new MemoryStorage();
		const bad = [
			{ ...entry, key: '' },
			{ ...entry, kind: 'other' },
			{ ...entry, deadline: 'x' },
			7
		];
		storage.setItem('box', JSON.stringify({ v: 1, entries: [...bad, entry] }));
		expect(readEntries(storage, 'box')).toEqual([entry]);
		for (const text of ['not json', '[]', '{"v":2,"entries":[]}', 'null']) {
			storage.setItem('box', text);
			expect(readEntries(storage, 'box')).toEqual([]);
		}
	});

	it('a storage that cannot be read has no entries', () => {
		const blocked = {
			getItem: () => {
				throw new DOMException('blocked', 'SecurityError');
			},
			setItem: () => {},
			removeItem: () => {}
		};
		expect(readEntries(blocked, 'box')).toEqual([]);
	});
});
