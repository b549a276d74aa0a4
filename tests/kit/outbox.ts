import { createRequire } from 'node:module';
import { afterEach } from 'vitest';
import {
	ClientMessage,
	Outbox,
	type OutboxOptions,
	type SocketClient,
	type SocketClientOptions
} from '../../src/lib/index.js';
import type { OutboxDrop } from '../../src/lib/client/outbox.js';
import type { OutboxStorage } from '../../src/lib/client/outbox-storage.js';
import type { RouteOptions, SocketServerOptions } from '../../src/lib/server/index.js';
import { makeClient } from './clients.js';
import { startSocketServer, type RunningServer } from './servers/socket-server.js';

// The outbox tests' kit: a storage, a server whose handler counts its effects, and a page (a client
// and its outbox) that can be "reloaded" on the same storage.

const outboxes: Outbox[] = [];

afterEach(() => {
	for (const outbox of outboxes.splice(0)) outbox.dispose();
});

/**
 * A Map-backed storage with the Web Storage API's shape: `failure`, when set, is what `setItem`
 * throws (a full quota, a storage the browser blocks).
 */
export class MemoryStorage implements OutboxStorage {
	readonly items = new Map<string, string>();
	failure: Error | undefined;
	/** How many times `setItem` wrote. */
	writes = 0;

	getItem(key: string): string | null {
		return this.items.get(key) ?? null;
	}
	setItem(key: string, value: string): void {
		if (this.failure) throw this.failure;
		this.writes++;
		this.items.set(key, String(value));
	}
	removeItem(key: string): void {
		this.items.delete(key);
	}
}

/** The part of jsdom this kit uses (jsdom ships no types, and the project has none for it). */
type JsdomModule = {
	JSDOM: new (html: string, options: { url: string }) => { window: { sessionStorage: Storage } };
};

/** A browser's own `sessionStorage` (jsdom's: the Web Storage API with its quota), for one page. */
export function browserSessionStorage(): Storage {
	const { JSDOM } = createRequire(import.meta.url)('jsdom') as JsdomModule;
	return new JSDOM('', { url: 'http://127.0.0.1/' }).window.sessionStorage;
}

/** `DOMException`'s name a full storage throws, as browsers do. */
export function quotaExceeded(): Error {
	return new DOMException('The quota has been exceeded.', 'QuotaExceededError');
}

/**
 * The request the tests send: `op` names one logical action (the effect counted), `hold` keeps the
 * handler waiting until the test releases it, `refuse` answers with an app error (no effect).
 */
export const Ack = ClientMessage.define<{
	op: string;
	hold?: boolean;
	refuse?: boolean;
	/** ms the handler takes before its effect: a cut may come meanwhile. */
	delay?: number;
}>('incident.ack');

/** A message the tests emit: counted per `op` like Ack's effects. */
export const Note = ClientMessage.define<{ op: string }>('incident.note');

/** A real runesocket server whose handlers count what they applied. */
export interface EffectServer {
	readonly server: RunningServer;
	/** Ack's applied effects per `op` (the handler ran to its effect). */
	readonly effects: Map<string, number>;
	/** Notes received per `op`, in arrival order. */
	readonly notes: string[];
	/** Every Ack `op` a handler started on (before its hold, delay or refusal). */
	readonly received: Set<string>;
	/** Handlers waiting on `hold`, each with the function that lets it go on. */
	readonly held: (() => void)[];
	/** Drops every connection at once (1006 at the client): what a network cut does. */
	cut(): void;
}

/**
 * Starts a runesocket server on `/ws` where every connection is user `alice` (the request keys'
 * scope is the user's, so a reloaded page's retries are repeats of the first page's).
 */
export async function startEffectServer(
	route: Partial<RouteOptions> = {},
	options: Partial<SocketServerOptions> = {}
): Promise<EffectServer> {
	const server = await startSocketServer({
		...options,
		routes: [
			{
				path: '/ws',
				origins: 'any',
				authenticate: () => ({ success: true, data: { id: 'alice' } }),
				...route
			}
		]
	});
	const effects = new Map<string, number>();
	const notes: string[] = [];
	const held: (() => void)[] = [];
	const received = new Set<string>();
	server.sockets.on(Ack, async (_connection, { op, hold, refuse, delay }, reply) => {
		received.add(op);
		if (hold) await new Promise<void>((release) => held.push(release));
		if (delay) await new Promise((resolve) => setTimeout(resolve, delay));
		if (refuse) return reply.error('refused', `${op} refused`);
		effects.set(op, (effects.get(op) ?? 0) + 1);
		reply({ op, applied: effects.get(op) });
	});
	server.sockets.on(Note, (_connection, { op }) => void notes.push(op));
	return {
		server,
		effects,
		notes,
		received,
		held,
		cut: () => {
			for (const connection of server.sockets.connections) connection.terminate();
		}
	};
}

/** One page: a client (not connected yet) and its outbox, disposed after the test. */
export interface Page {
	readonly client: SocketClient;
	readonly outbox: Outbox;
	/** Every drop the outbox reported. */
	readonly drops: OutboxDrop[];
}

/** A page on `url`; reconnecting fast, so that a cut costs a test a few ms. */
export function openPage(
	url: string,
	options: OutboxOptions = {},
	clientOptions: SocketClientOptions = {}
): Page {
	const client = makeClient(url, { reconnectDelay: 5, maxReconnectDelay: 20, ...clientOptions });
	const outbox = new Outbox(client, { retryDelay: 5, ...options });
	outboxes.push(outbox);
	const drops: OutboxDrop[] = [];
	outbox.onDrop((drop) => drops.push(drop));
	return { client, outbox, drops };
}

/** The page after a reload: the old one is gone without a word, a new one made on the same storage. */
export function reload(
	page: Page,
	url: string,
	options: OutboxOptions,
	clientOptions?: SocketClientOptions
): Page {
	page.outbox.dispose();
	page.client.dispose();
	return openPage(url, options, clientOptions);
}
