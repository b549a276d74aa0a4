// The three ways of reading the same room deliveries measured side by side, all in this process:
// bare `ws` with `JSON.parse` and a `switch` on the name (the floor), and runesocket's
// `SocketClient` with a handler, without and with a zod 4 schema on the message.
import WebSocket from 'ws';
import { z } from 'zod';
import type { MessageDefinition, SocketClient } from '../../src/lib/index.js';
import { BurstCounter, type BurstResult } from './burst-counter.js';
import type { ClientModule } from './bundled-client.js';
import { TICK, type PayloadSize, type TickData } from './messages.js';

/** The server's answer to a join, which says the room's deliveries come next. */
const JOINED = 'room.joined';

/**
 * One way of reading deliveries: connects and joins its own room, then counts bursts.
 *
 * @example
 * await contender.start('ws://127.0.0.1:4000/ws', 'bare');
 * const result = await contender.expect('small', 4000, 30_000); // then ask the server for the burst
 */
export interface InboundContender {
	/** A short name for `--only`. */
	readonly key: string;
	readonly name: string;
	/** Connects to `url` and joins `room`; resolves once the server answered the join. */
	start(url: string, room: string): Promise<void>;
	/** Counts the next burst of `count` payloads of `size`. */
	expect(size: PayloadSize, count: number, timeoutMs: number): Promise<BurstResult>;
	close(): void;
}

/** Bare `ws`: `JSON.parse` of each frame, then a `switch` on the name. */
class BareWs implements InboundContender {
	readonly key = 'ws';
	readonly name = 'ws + JSON.parse + switch';
	readonly #counter = new BurstCounter();
	#socket?: WebSocket;
	#joined?: () => void;

	async start(url: string, room: string): Promise<void> {
		const socket = (this.#socket = new WebSocket(url));
		const joined = new Promise<void>((resolve) => (this.#joined = resolve));
		socket.on('message', (data) => this.#handle(String(data)));
		await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
		socket.send(JSON.stringify({ name: 'room.join', data: { room } }));
		await joined;
	}

	#handle(frame: string): void {
		// Room deliveries are `[name, data, room, offset, epoch]`; other messages `{name, data, …}`.
		const message = JSON.parse(frame) as [string, TickData] | { name: string };
		switch (Array.isArray(message) ? message[0] : message.name) {
			case TICK.small:
			case TICK.large:
				this.#counter.record((message as [string, TickData])[1].seq);
				break;
			case JOINED:
				this.#joined?.();
				break;
		}
	}

	expect(_size: PayloadSize, count: number, timeoutMs: number): Promise<BurstResult> {
		return this.#counter.expect(count, timeoutMs);
	}

	close(): void {
		this.#socket?.close();
	}
}

/** runesocket's `SocketClient` with one handler on each payload's message definition. */
class RunesocketClient implements InboundContender {
	readonly key: string;
	readonly name: string;
	readonly #runesocket: ClientModule;
	readonly #definitions: Record<PayloadSize, MessageDefinition<TickData>>;
	readonly #counter = new BurstCounter();
	#client?: SocketClient;

	constructor(
		runesocket: ClientModule,
		key: string,
		name: string,
		definitions: Record<PayloadSize, MessageDefinition<TickData>>
	) {
		this.#runesocket = runesocket;
		this.key = key;
		this.name = name;
		this.#definitions = definitions;
	}

	async start(url: string, room: string): Promise<void> {
		// No window or document in Node; heartbeats as by default.
		const { SocketClient, ClientMessage } = this.#runesocket;
		const client = (this.#client = new SocketClient(url, {
			WebSocket,
			window: null,
			document: null
		}));
		const joined = new Promise<void>((resolve) =>
			client.on(ClientMessage.define(JOINED), () => resolve())
		);
		for (const definition of Object.values(this.#definitions)) {
			client.on(definition, (data) => this.#counter.record(data.seq));
		}
		client.joinRoom(room);
		client.connect();
		await joined;
	}

	expect(_size: PayloadSize, count: number, timeoutMs: number): Promise<BurstResult> {
		return this.#counter.expect(count, timeoutMs);
	}

	close(): void {
		this.#client?.disconnect();
	}
}

const MonitorRowSchema = z.object({
	uuid: z.string(),
	name: z.string(),
	status: z.enum(['up', 'degraded', 'down']),
	latency: z.number(),
	changedAt: z.number()
});
const TickSchema: Record<PayloadSize, z.ZodType<TickData>> = {
	small: z.object({ seq: z.number(), t: z.number(), pad: z.string() }),
	large: z.object({ seq: z.number(), t: z.number(), monitors: z.array(MonitorRowSchema) })
};

/**
 * A fresh set of the three contenders, the floor first (ratios are against it), the clients from
 * `runesocket` (the bundled client entry).
 *
 * @example
 * const [bare, client, clientWithZod] = createContenders(await importBundledClient());
 */
export function createContenders(runesocket: ClientModule): InboundContender[] {
	const { define } = runesocket.ClientMessage;
	const untyped = { small: define<TickData>(TICK.small), large: define<TickData>(TICK.large) };
	const validated = {
		small: define(TICK.small, TickSchema.small),
		large: define(TICK.large, TickSchema.large)
	};
	return [
		new BareWs(),
		new RunesocketClient(runesocket, 'client', 'SocketClient, no schema', untyped),
		new RunesocketClient(runesocket, 'zod', 'SocketClient + zod 4 schema', validated)
	];
}
