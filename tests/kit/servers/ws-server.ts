import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { READ_REPORT_PREFIX } from '../../../src/lib/protocol/envelope.js';
import { within } from '../wait.js';

/** One client connection as the test server sees it. */
export class ServerPeer {
	readonly socket: WebSocket;
	readonly request: IncomingMessage;
	/** Every text frame received, except heartbeat pings the server answered itself and read reports. */
	readonly frames: string[] = [];
	/** The counts of the read reports (`4:<n>`) received, in order. */
	readonly readReports: number[] = [];
	/** How many `"2"` pings the server answered. */
	pings = 0;
	/** Resolves with the close code and reason once the connection is closed. */
	readonly closed: Promise<{ code: number; reason: string }>;
	#waiters: (() => void)[] = [];

	constructor(socket: WebSocket, request: IncomingMessage, answerPings: () => boolean) {
		this.socket = socket;
		this.request = request;
		socket.on('message', (data, isBinary) => {
			const text = isBinary ? `<binary ${(data as Buffer).length}>` : data.toString();
			if (text == '2' && answerPings()) {
				socket.send('3');
				this.pings++;
			} else if (text.startsWith(READ_REPORT_PREFIX)) {
				this.readReports.push(Number(text.slice(READ_REPORT_PREFIX.length)));
			} else {
				this.frames.push(text);
			}
			for (const wake of this.#waiters.splice(0)) wake();
		});
		this.closed = new Promise((resolve) => {
			socket.on('close', (code, reason) => resolve({ code, reason: reason.toString() }));
		});
	}

	/** Frames parsed as JSON (non-JSON frames are kept as strings). */
	get messages(): unknown[] {
		return this.frames.map((frame) => {
			try {
				return JSON.parse(frame);
			} catch {
				return frame;
			}
		});
	}

	/** Resolves with the first frame (from `from` on) that satisfies `match`. */
	async waitForFrame(
		match: (frame: string) => boolean,
		what = 'a matching frame',
		ms = 5_000,
		from = 0
	): Promise<string> {
		const search = async (): Promise<string> => {
			for (;;) {
				const found = this.frames.slice(from).find(match);
				if (found !== undefined) return found;
				await new Promise<void>((wake) => this.#waiters.push(wake));
			}
		};
		return within(search(), what, ms);
	}

	/** Resolves once the server answered at least `count` pings. */
	waitForPings(count: number, ms = 5_000): Promise<void> {
		return within(
			(async () => {
				while (this.pings < count) await new Promise<void>((wake) => this.#waiters.push(wake));
			})(),
			`${count} pings`,
			ms
		);
	}

	/** Resolves once at least `count` frames arrived. */
	waitForFrames(count: number, ms = 5_000): Promise<string[]> {
		return within(
			(async () => {
				while (this.frames.length < count) {
					await new Promise<void>((wake) => this.#waiters.push(wake));
				}
				return this.frames;
			})(),
			`${count} frames`,
			ms
		);
	}

	/** Sends an object as JSON, or a string as is. */
	send(message: unknown): void {
		this.socket.send(typeof message == 'string' ? message : JSON.stringify(message));
	}

	/** Sends a runesocket envelope. */
	deliver(name: string, data: unknown, extra: Record<string, unknown> = {}): void {
		this.send({ name, data, timestamp: Date.now(), ...extra });
	}
}

/** A real `ws` server on 127.0.0.1 that a test controls. */
export class TestServer {
	readonly wss: WebSocketServer;
	readonly peers: ServerPeer[] = [];
	/** When false, `"2"` pings are recorded like other frames and get no `"3"`. */
	answerPings = true;
	#waiters: ((peer: ServerPeer) => void)[] = [];

	private constructor(wss: WebSocketServer) {
		this.wss = wss;
		wss.on('connection', (socket, request) => {
			const peer = new ServerPeer(socket, request, () => this.answerPings);
			this.peers.push(peer);
			for (const wake of this.#waiters.splice(0)) wake(peer);
		});
	}

	/** Starts a server on `port` (0: a free one). */
	static async start(port = 0): Promise<TestServer> {
		const wss = new WebSocketServer({ host: '127.0.0.1', port });
		await within(
			new Promise<void>((resolve, reject) => {
				wss.once('listening', resolve);
				wss.once('error', reject);
			}),
			'the test server to listen'
		);
		return new TestServer(wss);
	}

	get port(): number {
		return (this.wss.address() as AddressInfo).port;
	}

	get url(): string {
		return `ws://127.0.0.1:${this.port}`;
	}

	/** The `index`-th connection (0-based) ever made, waiting for it if needed. */
	connection(index: number, ms = 5_000): Promise<ServerPeer> {
		const waitFor = async () => {
			while (this.peers.length <= index) {
				await new Promise<ServerPeer>((wake) => this.#waiters.push(wake));
			}
			return this.peers[index];
		};
		return within(waitFor(), `connection #${index}`, ms);
	}

	/** Drops every connection without a close frame and stops listening. */
	async stop(): Promise<void> {
		for (const client of this.wss.clients) client.terminate();
		await new Promise<void>((resolve) => this.wss.close(() => resolve()));
	}
}
