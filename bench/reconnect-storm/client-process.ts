// A child process that holds the storm's clients: `fork('client-process.ts', [kind, port, count])`.
// It connects them all (in batches, so the start is not a storm of its own) and reports `ready`;
// from then on it records every connection attempt and the moment each client is connected and in
// its room again, and reports `back` once every client is.
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { Connected, ReconnectAttempt, SocketClient } from '../../src/lib/index.js';
import { LoopLagMeter } from './loop-lag.js';
import { nowMs, type ClientCommand, type ClientKind, type ClientReport } from './messages.js';
import { NoJitterClient } from './no-jitter-client.js';

/** Clients started at once while connecting; each batch is in its rooms before the next starts. */
const CONNECT_BATCH = 100;
const ROOMS = 100;

/** One client of any kind, reporting its attempts and joins to the log it was made with. */
interface StormClient {
	connect(): void;
	stop(): void;
}

/**
 * Every client's joins: its first (while connecting) and, once the storm started (`ready`), its
 * first join after that (it is back) and any later one; and every attempt since the storm started.
 */
class StormLog {
	readonly attemptTimes: number[] = [];
	/** When each attempt was due by its backoff delay, for clients that tell it. */
	readonly scheduledTimes: number[] = [];
	readonly backTimes: number[] = [];
	#ready = false;
	readonly #lag = new LoopLagMeter();
	readonly #count: number;
	readonly #back = new Set<number>();
	#rejoinedTwice = 0;
	readonly #joinedOnce = new Set<number>();
	#onFirstJoin: (() => void) | undefined;

	constructor(count: number) {
		this.#count = count;
	}

	attempted(): void {
		if (this.#ready) this.attemptTimes.push(nowMs());
	}

	scheduled(delay: number): void {
		if (this.#ready) this.scheduledTimes.push(nowMs() + delay);
	}

	joined(client: number): void {
		if (!this.#ready) {
			this.#joinedOnce.add(client);
			this.#onFirstJoin?.();
		} else if (this.#back.has(client)) {
			this.#rejoinedTwice++;
		} else {
			this.#back.add(client);
			this.backTimes.push(nowMs());
			if (this.#back.size == this.#count) this.#allBack();
		}
	}

	/** Resolves once `count` clients joined their room for the first time. */
	firstJoins(count: number): Promise<void> {
		return new Promise((resolve) => {
			this.#onFirstJoin = () => {
				if (this.#joinedOnce.size < count) return;
				this.#onFirstJoin = undefined;
				resolve();
			};
			this.#onFirstJoin();
		});
	}

	start(): void {
		this.#ready = true;
		this.#lag.start();
		report({ type: 'ready' });
	}

	#allBack(): void {
		const { attemptTimes, scheduledTimes, backTimes } = this;
		const [rejoinedTwice, lag] = [this.#rejoinedTwice, this.#lag.read()];
		report({ type: 'back', attemptTimes, scheduledTimes, backTimes, rejoinedTwice, lag });
	}
}

function report(message: ClientReport): void {
	process.send?.(message);
}

/** `SocketClient` with its defaults, on a `ws` socket class that logs each attempt as it is made. */
function runesocketClient(port: number, room: string, index: number, log: StormLog): StormClient {
	class LoggedWebSocket extends WebSocket {
		constructor(url: string) {
			super(url);
			log.attempted();
		}
	}
	const client = new SocketClient(`ws://127.0.0.1:${port}/ws`, {
		WebSocket: LoggedWebSocket,
		window: null,
		document: null
	});
	// Refused attempts while the server is down are expected: they must not flood the console.
	client.onError(() => {});
	client.on(Connected, () => log.joined(index));
	client.on(ReconnectAttempt, ({ delay }) => log.scheduled(delay));
	client.joinRoom(room);
	return { connect: () => client.connect(), stop: () => client.dispose() };
}

function baselineClient(port: number, room: string, index: number, log: StormLog): StormClient {
	return new NoJitterClient(`ws://127.0.0.1:${port}/ws`, room, {
		attempted: () => log.attempted(),
		scheduled: (delay) => log.scheduled(delay),
		joined: () => log.joined(index)
	});
}

/**
 * Socket.IO's client with its default reconnection (1 s doubling to 5 s, ±50% randomisation). Its
 * Manager announces an attempt only once its delay is over, so its schedule is not logged.
 */
function socketIoClient(port: number, room: string, index: number, log: StormLog): StormClient {
	const socket = io(`http://127.0.0.1:${port}`, {
		transports: ['websocket'],
		query: { room },
		forceNew: true,
		autoConnect: false
	});
	socket.io.on('reconnect_attempt', () => log.attempted());
	socket.on('joined', () => log.joined(index));
	return { connect: () => socket.connect(), stop: () => socket.disconnect() };
}

const makers = {
	runesocket: runesocketClient,
	baseline: baselineClient,
	'socket.io': socketIoClient
};

const [kind, port, count] = [
	process.argv[2] as ClientKind,
	Number(process.argv[3]),
	Number(process.argv[4])
];
const log = new StormLog(count);
const clients: StormClient[] = [];
process.on('message', (command: ClientCommand) => {
	if (command.type != 'exit') return;
	for (const client of clients) client.stop();
	process.exit(0);
});
// Nothing outlives the orchestrator.
process.on('disconnect', () => process.exit(0));

for (let index = 0; index < count; index++) {
	clients.push(makers[kind](port, `room-${index % ROOMS}`, index, log));
}
for (let start = 0; start < count; start += CONNECT_BATCH) {
	for (const client of clients.slice(start, start + CONNECT_BATCH)) client.connect();
	await log.firstJoins(Math.min(count, start + CONNECT_BATCH));
}
log.start();
