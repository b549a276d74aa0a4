// Model-based test of SocketClient's lifecycle: fast-check runs random sequences of what an app,
// a server and a page do to a client, against a real `ws` server on 127.0.0.1. Page events no
// Node test can cause for real are dispatched on stand-in targets; timers are faked so that a
// reconnect happens only when a `Tick` lets it, which makes every run replayable.
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { Connected, ReconnectAttempt, SocketClient } from '../../src/lib/index.js';
import { type WebSocketConstructor } from '../../src/lib/client/socket-client.js';
import { FakeDocument, FakeWindow } from '../kit/page.js';
import { until, within } from '../kit/wait.js';
import { TestServer, type ServerPeer } from '../kit/servers/ws-server.js';

const ROOMS = ['account:1', 'project:2'];
const OPEN = 1;
const CLOSED = 3;

/** What the test knows for sure: whether the app stopped the client, and since when. */
interface Model {
	/** Stopped by `disconnect()` (or by a 1008 close): nothing may reconnect until `connect()`. */
	stopped: boolean;
}

/** The client, its server, its page, and everything observed so far. */
interface Real {
	client: SocketClient;
	server: TestServer;
	window: FakeWindow;
	document: FakeDocument;
	sockets: WebSocket[];
	/** Tags of the connections the client announced with `Connected`. */
	announced: Set<string>;
	/** How many times `Connected` fired: once per announced connection, never twice for one. */
	announcements: number;
	/** Connections the server dropped: frames the client sent may never have been read. */
	dropped: Set<ServerPeer>;
	reconnectAttempts: number;
	/** `sockets.length` and `reconnectAttempts` when the client was last stopped. */
	stoppedAt: { sockets: number; attempts: number };
}

/** Waits until no socket is half-way: each one is open or closed, and so is the server's end. */
async function settle(real: Real): Promise<void> {
	await until(
		() =>
			real.sockets.every(({ readyState }) => readyState == OPEN || readyState == CLOSED) &&
			real.server.peers.every(
				({ socket }) => socket.readyState == CLOSED || socket.readyState == OPEN
			),
		'every socket to be open or closed'
	);
}

function checkInvariants(model: Model, real: Real): void {
	const live = real.sockets.filter((socket) => socket.readyState <= OPEN);
	expect(live.length, 'client sockets connecting or open').toBeLessThanOrEqual(1);
	const serverOpen = real.server.peers.filter(({ socket }) => socket.readyState == OPEN);
	expect(serverOpen.length, 'connections open on the server').toBeLessThanOrEqual(1);
	expect(real.client.isConnected).toBe(live.some((socket) => socket.readyState == OPEN));
	expect(real.announcements, 'Connected twice for one connection').toBe(real.announced.size);
	if (!model.stopped) return;
	expect(real.sockets.length, 'sockets created after disconnect()').toBe(real.stoppedAt.sockets);
	expect(real.reconnectAttempts, 'reconnects after disconnect()').toBe(real.stoppedAt.attempts);
	expect(real.client.connectionState).toBe('disconnected');
	expect(real.client.pausedBy).toBeUndefined();
	expect(vi.getTimerCount(), 'timers left after disconnect()').toBe(0);
}

function stop(model: Model, real: Real): void {
	model.stopped = true;
	real.stoppedAt = { sockets: real.sockets.length, attempts: real.reconnectAttempts };
}

/** The client's socket that is open now, if any. */
function openSocket(real: Real): WebSocket | undefined {
	return real.sockets.find((socket) => socket.readyState == OPEN);
}

/** The server's end of `socket`, found by the tag in its URL. */
function peerOf(real: Real, socket: WebSocket) {
	const tag = new URL(socket.url).searchParams.get('n');
	return real.server.peers.find((peer) => peer.request.url?.endsWith(`?n=${tag}`));
}

type Command = fc.AsyncCommand<Model, Real>;

/** A command whose effect is one synchronous call; the invariants are checked once it settled. */
function action(name: string, act: (real: Real, model: Model) => void, when = () => true) {
	return class implements Command {
		check = when;
		async run(model: Model, real: Real): Promise<void> {
			act(real, model);
			await settle(real);
			checkInvariants(model, real);
		}
		toString = () => name;
	};
}

const Connect = action('connect', (real, model) => {
	model.stopped = false;
	real.client.connect();
});
const Disconnect = action('disconnect', (real, model) => {
	real.client.disconnect();
	stop(model, real);
});
const Offline = action('offline', ({ window }) => {
	window.navigator.onLine = false;
	window.dispatchEvent(new Event('offline'));
});
const Online = action('online', ({ window }) => {
	window.navigator.onLine = true;
	window.dispatchEvent(new Event('online'));
});
const Hide = action('hide', ({ document }) => {
	document.visibilityState = 'hidden';
	document.dispatchEvent(new Event('visibilitychange'));
});
const Show = action('show', ({ document }) => {
	document.visibilityState = 'visible';
	document.dispatchEvent(new Event('visibilitychange'));
});
// A laptop going to sleep freezes the page; the back/forward cache is the event a page gets for it.
const Sleep = action('sleep', ({ window }) =>
	window.dispatchEvent(Object.assign(new Event('pagehide'), { persisted: true }))
);
const Wake = action('wake', ({ window }) =>
	window.dispatchEvent(Object.assign(new Event('pageshow'), { persisted: true }))
);
/** Lets the next timer fire: a reconnect delay, or a heartbeat. */
const Tick = action('tick', () => vi.advanceTimersToNextTimer());

/** The server ends the open connection: with a close code, or by dropping it (1006). */
class ServerClose implements Command {
	readonly code: number | 'drop';
	constructor(code: number | 'drop') {
		this.code = code;
	}
	check = () => true;
	async run(model: Model, real: Real): Promise<void> {
		const socket = openSocket(real);
		if (!socket) return;
		const peer = peerOf(real, socket);
		if (!peer) throw new Error('an open socket the server does not know');
		if (this.code == 'drop') peer.socket.terminate();
		else peer.socket.close(this.code, 'model');
		if (this.code == 'drop') real.dropped.add(peer);
		await until(() => socket.readyState == CLOSED, 'the client to see the close');
		// 1008 stops the client for good, as disconnect() does.
		if (this.code == 1008) stop(model, real);
		await settle(real);
		checkInvariants(model, real);
	}
	toString = () => `serverClose(${this.code})`;
}

// Repeated entries weigh more: most runs should connect, drop and reconnect several times.
const commands = [
	fc.constant(new Connect()),
	fc.constant(new Connect()),
	fc.constant(new Disconnect()),
	fc.constant(new Offline()),
	fc.constant(new Online()),
	fc.constant(new Hide()),
	fc.constant(new Show()),
	fc.constant(new Sleep()),
	fc.constant(new Wake()),
	fc.constant(new Tick()),
	fc.constant(new Tick()),
	fc.constant(new Tick()),
	// Each class of close code: normal, going away, server error / app retry, policy (stop),
	// token refused (4001: retry at once with a fresh token), dropped without a close frame.
	fc
		.constantFrom<number | 'drop'>(1000, 1001, 1011, 4000, 1008, 4001, 'drop')
		.map((code) => new ServerClose(code)),
	fc.constantFrom<number | 'drop'>(1011, 4001, 'drop').map((code) => new ServerClose(code))
];

afterEach(() => {
	vi.useRealTimers();
});

async function setup(): Promise<Real> {
	const server = await TestServer.start();
	const sockets: WebSocket[] = [];
	class TrackedWebSocket extends WebSocket {
		constructor(url: string) {
			super(url);
			sockets.push(this);
		}
	}
	const window = new FakeWindow();
	const document = new FakeDocument();
	let connection = 0;
	const client = new SocketClient(() => `${server.url}/?n=${connection++}`, {
		WebSocket: TrackedWebSocket as unknown as WebSocketConstructor,
		window,
		document,
		auth: () => 'token',
		reconnectDelay: 10,
		maxReconnectDelay: 50,
		heartbeatInterval: 60_000
	});
	client.onError(() => {});
	const real: Real = {
		client,
		server,
		window,
		document,
		sockets,
		announced: new Set(),
		announcements: 0,
		dropped: new Set(),
		reconnectAttempts: 0,
		stoppedAt: { sockets: 0, attempts: 0 }
	};
	client.on(ReconnectAttempt, () => real.reconnectAttempts++);
	client.on(Connected, () => {
		real.announcements++;
		real.announced.add(new URL((client.socket as WebSocket).url).searchParams.get('n')!);
	});
	// From a position: this server never answers a rejoin, so every connection is announced only
	// once the deadline for rejoin answers passed (a Tick).
	client.joinRoom(ROOMS[0]);
	client.joinRoom(ROOMS[1], { offset: 0, epoch: 'e' });
	return real;
}

/** After dispose(): nothing open, no timer, and every announced connection rejoined each room once. */
async function checkTeardown(real: Real): Promise<void> {
	real.client.dispose();
	await settle(real);
	expect(real.sockets.every((socket) => socket.readyState == CLOSED)).toBe(true);
	expect(vi.getTimerCount(), 'timers left after dispose()').toBe(0);
	await within(
		Promise.all(real.server.peers.map((peer) => peer.closed)),
		'every connection to close on the server'
	);
	for (const peer of real.server.peers) {
		const tag = new URL(peer.request.url!, 'ws://x').searchParams.get('n')!;
		const joins = peer.messages.filter(
			(message): message is { name: string; data: { room: string } } =>
				(message as { name?: string }).name == 'room.join'
		);
		for (const room of ROOMS) {
			const count = joins.filter(({ data }) => data.room == room).length;
			if (real.announced.has(tag) && !real.dropped.has(peer))
				expect(count, `joins of ${room} on #${tag}`).toBe(1);
			else expect(count, `joins of ${room} on #${tag}`).toBeLessThanOrEqual(1);
		}
	}
}

/** `SOAK=1` runs the long form. */
const soak = process.env.SOAK == '1';

describe('SocketClient lifecycle, model-based', () => {
	it(
		'keeps at most one socket, leaves no timer, never reconnects after disconnect(), rejoins each room once per connection',
		async () => {
			await fc.assert(
				fc.asyncProperty(
					fc.commands(commands, { maxCommands: soak ? 60 : 25, size: '+1' }),
					async (scenario) => {
						vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
						const real = await setup();
						try {
							await fc.asyncModelRun(() => ({ model: { stopped: true }, real }), scenario);
							await checkTeardown(real);
						} finally {
							real.client.dispose();
							vi.useRealTimers();
							await real.server.stop();
						}
					}
				),
				// Every case runs, or the test fails: 100 cases take under a second on an idle machine, so
				// the limit only ends a run that hangs, with a report of how many cases it got through.
				{
					numRuns: soak ? 1_000 : 100,
					interruptAfterTimeLimit: soak ? 300_000 : 45_000,
					markInterruptAsFailure: true
				}
			);
		},
		soak ? 360_000 : 60_000
	);
});
