import { flushSync, mount, unmount, type Component } from 'svelte';
import { afterEach } from 'vitest';
import WebSocket from 'ws';
// Imported first so its afterEach (stopping servers) runs after ours: vitest runs after-hooks as a
// stack, so components and sockets go before the servers wait for their connections.
import { track } from '../clients.js';
import { reachState, within } from '../wait.js';
import { TestServer, type ServerPeer } from '../servers/ws-server.js';
import { SocketClient, type SocketClientOptions } from '../../../src/lib/index.js';
import Reader from './components/Reader.svelte';
import { LiveSocket, type LiveSocketOptions } from '../../../src/lib/svelte/index.js';
import { type Schedule } from '../../../src/lib/svelte/batch.js';

const sockets: LiveSocket[] = [];
const clients: SocketClient[] = [];
const components: Record<string, unknown>[] = [];

afterEach(() => {
	for (const component of components.splice(0)) void unmount(component);
	for (const socket of sockets.splice(0)) socket.dispose();
	for (const client of clients.splice(0)) client.dispose();
	document.body.innerHTML = '';
});

/** What every socket in these tests gets: `ws` for the socket, jsdom's window and document. */
const environment = { WebSocket, window, document } satisfies SocketClientOptions;

/** A LiveSocket on `ws` in jsdom (or over `source`, a client), disposed after the test. */
export function live(source: string | SocketClient, options: LiveSocketOptions = {}): LiveSocket {
	const socket = new LiveSocket(source, { ...environment, ...options });
	sockets.push(socket);
	return socket;
}

/** A SocketClient on `ws` in jsdom, disposed after the test. */
export function client(url: string, options: SocketClientOptions = {}): SocketClient {
	const created = new SocketClient(url, { ...environment, ...options });
	clients.push(created);
	return created;
}

/** Mounts `component` into the document and runs its effects; unmounted after the test. */
export function render<Props extends Record<string, unknown>>(
	component: Component<Props>,
	props: Props
): Record<string, unknown> {
	const mounted = mount(component, { target: document.body, props });
	components.push(mounted);
	flushSync();
	return mounted;
}

/** Unmounts a component `render` mounted. */
export function destroy(component: Record<string, unknown>): void {
	components.splice(components.indexOf(component), 1);
	void unmount(component);
}

/** Reads `read()` in a mounted component's effect; `seen` gets every value it read, in order. */
export function watch<T>(read: () => T): { seen: T[]; view: Record<string, unknown> } {
	const seen: T[] = [];
	// The values are read()'s own, so they are Ts.
	const view = render(Reader, { read, onread: (value) => seen.push(value as T) });
	return { seen, view };
}

/** A schedule the test drives: flushes wait until `run()`, like frames that come when told. */
export class Frames {
	#waiting: (() => void)[] = [];

	readonly schedule: Schedule = (flush) => void this.#waiting.push(flush);

	/** How many flushes are waiting. */
	get pending(): number {
		return this.#waiting.length;
	}

	/** Runs every waiting flush, then Svelte's effects. */
	run(): void {
		for (const flush of this.#waiting.splice(0)) flush();
		flushSync();
	}
}

/**
 * Counts the handlers `client` has: `client.on` (which `onStateChange`, `onError` and `onMessage`
 * go through) is wrapped so that every unsubscribe function counts itself out once.
 */
export function countHandlers(client: SocketClient): () => number {
	let live = 0;
	const on = client.on.bind(client) as (target: unknown, handler: unknown) => () => void;
	client.on = ((target: unknown, handler: unknown) => {
		const off = on(target, handler);
		live++;
		let subscribed = true;
		return () => {
			if (subscribed) live--;
			subscribed = false;
			off();
		};
	}) as SocketClient['on'];
	return () => live;
}

/** Resolves once `client` received `count` more messages (of any name). */
export function arrival(client: SocketClient, count: number): Promise<void> {
	let seen = 0;
	let off = () => {};
	return within(
		new Promise<void>((resolve) => {
			off = client.onMessage(() => ++seen == count && resolve());
		}),
		`${count} messages`
	).finally(() => off());
}

/** A LiveSocket held connected whose flushes wait for `frames.run()`, and its server connection. */
export async function connectedLive(): Promise<{
	socket: LiveSocket;
	frames: Frames;
	peer: ServerPeer;
}> {
	const server = track(await TestServer.start());
	const frames = new Frames();
	const socket = live(server.url, { schedule: frames.schedule });
	socket.connect();
	await reachState(socket.client, 'connected');
	return { socket, frames, peer: await server.connection(0) };
}
