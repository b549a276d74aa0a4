// What an idle connection does not carry (see bench/connections): its `closed` promise is made on
// demand, and its session takes socket events through functions shared by every socket. Each test
// checks the behaviour those savings must keep.
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { defineRoute, type Connection } from '../../src/lib/server/index.js';
import { Connection as ServerConnection } from '../../src/lib/server/connection.js';
import { Route } from '../../src/lib/server/route.js';
import { Session, type SessionHandlers } from '../../src/lib/server/session/session.js';
import { WsTransport } from '../../src/lib/server/transport/ws-transport.js';
import {
	connectRaw,
	deferred,
	serverConnection,
	tagged,
	type Deferred
} from '../kit/peers/ws-peer.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { within } from '../kit/wait.js';

describe('connection.closed', () => {
	it('resolves whether it was first asked for before the socket closed or after', async () => {
		const closedOnServer = new Map<string, Deferred<void>>();
		const running = await startSocketServer({
			routes: [
				defineRoute({
					path: '/ws',
					origins: 'any',
					onClose: (connection) => closedOnServer.get(connection.id)?.resolve()
				})
			]
		});
		const early = await connectRaw(running.url(), tagged('early'));
		const late = await connectRaw(running.url(), tagged('late'));
		await Promise.all([early.nextMessage('connected'), late.nextMessage('connected')]);
		const earlyConnection = serverConnection(running.sockets, 'early');
		const lateConnection = serverConnection(running.sockets, 'late');
		for (const connection of [earlyConnection, lateConnection]) {
			closedOnServer.set(connection.id, deferred());
		}
		const askedEarly = earlyConnection.closed;
		expect(earlyConnection.closed).toBe(askedEarly);

		early.socket.close();
		late.socket.close();
		await within(
			Promise.all([...closedOnServer.values()].map(({ promise }) => promise)),
			'both closes on the server'
		);

		await within(askedEarly, 'the closed promise asked for before the close');
		await within(lateConnection.closed, 'the closed promise asked for after the close');
	});

	it('resolves for a peer that never answers the close, once it is dropped', async () => {
		const running = await startSocketServer({ routes: [{ path: '/ws', origins: 'any' }] });
		const silent = await connectRaw(running.url(), tagged('silent'));
		await silent.nextMessage('connected');
		const connection: Connection<unknown> = serverConnection(running.sockets, 'silent');
		silent.socket.pause(); // reads nothing more, so the close frame is never answered

		connection.close(4000, 'bye');

		await within(connection.closed, 'the drop after the close handshake timeout', 6_000);
		expect(connection.isOpen).toBe(false);
	});
});

describe('WsTransport.listen', () => {
	const cleanups: (() => Promise<void> | void)[] = [];
	afterEach(async () => {
		for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
	});

	/** A `ws` server whose sockets each get a Connection and a Session on `route`, with `host`. */
	async function sessionServer(route: Route, host: SessionHandlers) {
		const http = createServer();
		const wss = new WebSocketServer({ server: http, autoPong: false });
		const sessions: { socket: WebSocket; session: Session }[] = [];
		const accepted: (() => void)[] = [];
		wss.on('connection', (socket: WebSocket, request: IncomingMessage) => {
			const transport = new WsTransport(socket, 0);
			const connection = new ServerConnection(transport, request, {}, route, noHost, noHost);
			const session = new Session(connection, route, host);
			transport.listen(session);
			session.start(undefined);
			sessions.push({ socket, session });
			accepted.shift()?.();
		});
		await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
		cleanups.push(async () => {
			for (const client of wss.clients) client.terminate();
			await new Promise<void>((resolve) => wss.close(() => http.close(() => resolve())));
		});
		const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
		const connect = async () => {
			const serverSide = new Promise<void>((resolve) => accepted.push(resolve));
			const client = new WebSocket(url);
			client.on('error', () => {});
			cleanups.push(() => client.terminate());
			await within(
				Promise.all([serverSide, new Promise((resolve) => client.once('open', resolve))]),
				'a client to connect'
			);
			return { client, ...sessions[sessions.length - 1] };
		};
		return { connect };
	}

	const noHost = {
		join: () => {},
		leave: () => {},
		broadcast: async () => {}
	};

	it('gives every socket the same listeners, which hand frames, pings, errors and the close to its session', async () => {
		const route = new Route({ path: '/ws', rateLimit: false, heartbeat: 0 });
		const frames: { session: Session; frame: string }[] = [];
		const framed: (() => void)[] = [];
		const reported = deferred<Error>();
		const closed = deferred<{ session: Session; code: number }>();
		const host: SessionHandlers = {
			ready: vi.fn(),
			dispatch: (session, frame) => {
				frames.push({ session, frame });
				framed.shift()?.();
			},
			report: (_connection, error) => reported.resolve(error as Error),
			closed: (session, code) => closed.resolve({ session, code }),
			renewed: () => {}
		};
		const { connect } = await sessionServer(route, host);
		const first = await connect();
		const second = await connect();

		for (const event of ['message', 'ping', 'pong', 'error'] as const) {
			expect(first.socket.listeners(event)).toHaveLength(1);
			expect(first.socket.listeners(event)).toEqual(second.socket.listeners(event));
		}
		// `ws` listens to its own close too; one of the listeners is the session's, shared.
		const shared = first.socket
			.listeners('close')
			.filter((listener) => second.socket.listeners('close').includes(listener));
		expect(shared).toHaveLength(1);
		expect(host.ready).toHaveBeenCalledTimes(2);

		const dispatched = new Promise<void>((resolve) => framed.push(resolve));
		second.client.send('{"name":"hello","data":2}');
		await within(dispatched, 'the frame to be dispatched');
		expect(frames).toEqual([{ session: second.session, frame: '{"name":"hello","data":2}' }]);

		const pong = new Promise<Buffer>((resolve) => first.client.once('pong', resolve));
		first.client.ping('are you there');
		expect((await within(pong, 'the pong')).toString()).toBe('are you there');

		// Opcode 3 is reserved: the server's ws fails the socket with an error, which is reported.
		const rawSocket = (first.client as unknown as { _socket: { write(data: Buffer): void } })
			._socket;
		rawSocket.write(Buffer.from([0x83, 0x80, 0, 0, 0, 0]));
		expect((await within(reported.promise, 'the socket error')).message).toMatch(/opcode/i);
		expect((await within(closed.promise, 'the close')).session).toBe(first.session);
	});
});
