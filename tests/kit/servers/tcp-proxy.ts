import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach } from 'vitest';
import { Signal } from '../chaos.js';

/** One client connection through the proxy and its connection to the target. */
interface Pair {
	readonly client: Socket;
	readonly upstream: Socket;
}

const proxies = new Set<TcpProxy>();

afterEach(async () => {
	await Promise.all([...proxies].map((proxy) => proxy.close()));
});

/**
 * A TCP proxy on 127.0.0.1 in front of a local port, for faults no well-behaved peer causes:
 * - `freeze()` cuts the network without a word: nothing is forwarded either way, and neither end
 *   learns anything (no FIN, no RST) until `thaw()`;
 * - `cutWhen(pattern)` drops every connection whose client sends bytes matching `pattern` (e.g.
 *   Redis commands on one of a process's two Redis connections), as a failing link would.
 * Closed after the test at the latest.
 *
 * @example
 * ```ts
 * const proxy = await TcpProxy.start(server.port);
 * const client = makeClient(`ws://127.0.0.1:${proxy.port}/ws`);
 * proxy.freeze(); // … the server's heartbeat must notice …
 * proxy.thaw();
 * ```
 */
export class TcpProxy {
	readonly #server: Server;
	readonly #targetPort: number;
	readonly #pairs = new Set<Pair>();
	#frozen = false;
	#cutPattern: RegExp | undefined;
	#cuts = 0;
	/** Changes whenever the proxy cut a connection. */
	readonly signal = new Signal();

	private constructor(server: Server, targetPort: number) {
		this.#server = server;
		this.#targetPort = targetPort;
		server.on('connection', (client) => this.#accept(client));
	}

	/** Listens on a free port of 127.0.0.1 and forwards to `targetPort` there. */
	static async start(targetPort: number): Promise<TcpProxy> {
		const server = createServer();
		const proxy = new TcpProxy(server, targetPort);
		await new Promise<void>((resolve, reject) => {
			server.once('error', reject);
			server.listen(0, '127.0.0.1', () => resolve());
		});
		proxies.add(proxy);
		return proxy;
	}

	/** The port it listens on. */
	get port(): number {
		const address = this.#server.address();
		return typeof address == 'object' && address ? address.port : 0;
	}

	/** How many connections `cutWhen` dropped so far. */
	get cuts(): number {
		return this.#cuts;
	}

	/** Resolves once `cutWhen` dropped `count` connections in all. */
	cutAtLeast(count: number, ms?: number): Promise<void> {
		return this.signal.until(() => this.#cuts >= count, `${count} connections cut`, ms);
	}

	/** From now on, drops (both ends, at once) any connection whose client sends `pattern`; `undefined` stops it. */
	cutWhen(pattern: RegExp | undefined): void {
		this.#cutPattern = pattern;
	}

	/** Stops forwarding both ways, closes included; new connections wait too. */
	freeze(): void {
		this.#frozen = true;
		for (const { client, upstream } of this.#pairs) {
			client.pause();
			upstream.pause();
		}
	}

	/**
	 * Forwards again: what waited goes through, and an end that closed meanwhile now closes the
	 * other, as the peer's TCP stack would answer the next packet with a reset.
	 */
	thaw(): void {
		this.#frozen = false;
		for (const { client, upstream } of this.#pairs) {
			client.resume();
			upstream.resume();
		}
	}

	/** Stops listening and drops every connection. */
	async close(): Promise<void> {
		proxies.delete(this);
		for (const pair of this.#pairs) this.#drop(pair);
		await new Promise<void>((resolve) => this.#server.close(() => resolve()));
	}

	#accept(client: Socket): void {
		const upstream = connect(this.#targetPort, '127.0.0.1');
		const pair: Pair = { client, upstream };
		this.#pairs.add(pair);
		if (this.#frozen) {
			client.pause();
			upstream.pause();
		}
		client.on('data', (chunk: Buffer) => {
			if (this.#cutPattern?.test(chunk.toString('latin1'))) {
				this.#cuts++;
				this.#drop(pair);
				this.signal.changed();
				return;
			}
			upstream.write(chunk);
		});
		upstream.on('data', (chunk: Buffer) => client.write(chunk));
		for (const socket of [client, upstream]) {
			socket.on('error', () => this.#drop(pair));
			socket.on('close', () => this.#drop(pair));
		}
	}

	#drop(pair: Pair): void {
		this.#pairs.delete(pair);
		pair.client.destroy();
		pair.upstream.destroy();
	}
}
