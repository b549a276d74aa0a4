import { isRecord } from '../protocol/envelope.js';
import { isRequestKey } from './request-key.js';

/**
 * Where an `Outbox` keeps its entries across a reload: the part of the Web Storage API it uses.
 * `sessionStorage` is what a page passes (one tab's, gone with the tab); any object of this shape
 * works (tests pass a Map-backed one).
 */
export interface OutboxStorage {
	getItem(key: string): string | null;
	setItem(key: string, value: string): void;
	removeItem(key: string): void;
}

/**
 * One outbox entry as it is written: what it takes to send it again after a reload. `deadline` and
 * `createdAt` are ms since the epoch.
 */
export interface StoredEntry {
	readonly key: string;
	readonly name: string;
	readonly data: unknown;
	readonly kind: 'request' | 'message';
	readonly createdAt: number;
	readonly deadline: number;
}

/** Bumped when the stored shape changes: an older page's entries are then left unread. */
const VERSION = 1;

/** The JSON text of one entry: its size is what `maxBytes` counts. Throws on data JSON cannot hold. */
export function storedText({ key, name, data, kind, createdAt, deadline }: StoredEntry): string {
	return JSON.stringify({ key, name, data, kind, createdAt, deadline });
}

/** Writes `texts` (from `storedText`), or removes the item when there are none. Throws what the storage throws. */
export function writeEntries(storage: OutboxStorage, storageKey: string, texts: string[]): void {
	if (texts.length) storage.setItem(storageKey, `{"v":${VERSION},"entries":[${texts.join(',')}]}`);
	else storage.removeItem(storageKey);
}

/**
 * The entries an earlier page wrote, in the order they were made. What is not an entry (another
 * version's, or text someone else wrote under the key) is left out; a storage that cannot be read
 * (a `SecurityError` where storage is blocked) has none.
 */
export function readEntries(storage: OutboxStorage, storageKey: string): StoredEntry[] {
	let stored: unknown;
	try {
		stored = JSON.parse(storage.getItem(storageKey) ?? 'null');
	} catch {
		return [];
	}
	if (!isRecord(stored) || stored.v != VERSION || !Array.isArray(stored.entries)) return [];
	return stored.entries.filter(isStoredEntry);
}

function isStoredEntry(value: unknown): value is StoredEntry {
	return (
		isRecord(value) &&
		isRequestKey(value.key) &&
		typeof value.name == 'string' &&
		value.name != '' &&
		(value.kind == 'request' || value.kind == 'message') &&
		typeof value.createdAt == 'number' &&
		typeof value.deadline == 'number'
	);
}
