import type { Socket } from 'node:net';
import WebSocket from 'ws';
import { readReports, type ReadReports } from '../../src/lib/client/read-reports.js';
import {
	envelopeDialect,
	JOINED_MESSAGE,
	READ_REPORT_PREFIX,
	type StreamPosition
} from '../../src/lib/protocol/envelope.js';
import { isUnkeyed, newestPerKey, unkeyedCount } from './checks.js';
import {
	TICK,
	WATCHED_PARAMETER,
	type CheckData,
	type Goal,
	type ReaderResult
} from './messages.js';

/** A moment of a reader: when, the bytes its socket had read, the room messages it had got. */
export interface Mark {
	ms: number;
	bytes: number;
	messages: number;
}

/** A throttled reader gets its byte allowance in slices this long. */
const SLICE_MS = 50;

/**
 * One runesocket client of a room, on a real TCP socket, that knows which messages it must end
 * with (a goal: the newest check of every monitor and every unkeyed one) and tells when it holds
 * them. It can read slowly for real: `pause` stops reading the socket (the kernel's buffers fill and
 * the server's write is refused), `throttle` reads in short slices at a byte rate. With `reports`,
 * it tells the server how many frames it read as runesocket's client does (the client's own
 * `readReports`), so the server holds back what it would write too far ahead.
 *
 * @example
 * const { reader } = await Reader.join(port, 'room-0', goal, { watched: true });
 * reader.pause();
 * reader.throttle(500);
 * const result = await reader.catchUp(30_000);
 */
export class Reader {
	readonly #socket: WebSocket;
	readonly #tcp: Socket;
	readonly #goal: Goal;
	readonly #newest: Int32Array;
	#keysMissing: number;
	#unkeyedMissing: number;
	#messages = 0;
	#inOrder = true;
	/** The last room message it got. */
	#position: StreamPosition | undefined;
	/** The room's position when it joined (a replay's messages come after the answer, with lower offsets). */
	#joinedAt: StreamPosition | undefined;
	#recovered: boolean | undefined;
	/** When `room.joined` arrived (performance.now()). */
	#answeredAt: number | undefined;
	#closeCode: number | undefined;
	#budget = 0;
	#throttle: ReturnType<typeof setInterval> | undefined;
	readonly #reads: ReadReports | undefined;
	/** Called on every change that may settle what is awaited: a message, the close. */
	#changed: () => void = () => {};

	private constructor(socket: WebSocket, tcp: Socket, goal: Goal, reports: boolean) {
		this.#socket = socket;
		this.#tcp = tcp;
		this.#goal = goal;
		this.#newest = newestPerKey(goal);
		this.#keysMissing = this.#newest.filter((seq) => seq >= 0).length;
		this.#unkeyedMissing = unkeyedCount(goal);
		const reads = (this.#reads = reports
			? readReports((count) => socket.send(READ_REPORT_PREFIX + count))
			: undefined);
		socket.on('message', (raw) => {
			reads?.read();
			this.#receive(raw.toString());
		});
		socket.on('close', (code) => {
			reads?.stop();
			this.#closeCode = code;
			this.#changed();
		});
	}

	/**
	 * Connects to runesocket on 127.0.0.1:`port` (as the watched connection if asked; reporting its
	 * reads if asked) and joins `room` (at `since` if given). Resolves once `room.joined` arrived,
	 * with the moment the join was sent.
	 */
	static join(
		port: number,
		room: string,
		goal: Goal,
		options: { watched?: boolean; reports?: boolean; since?: StreamPosition } = {}
	): Promise<{ reader: Reader; joinSent: Mark }> {
		const query = options.watched ? `?${WATCHED_PARAMETER}` : '';
		const socket = new WebSocket(`ws://127.0.0.1:${port}/ws${query}`);
		return new Promise((resolve, reject) => {
			let tcp: Socket | undefined;
			socket.once('upgrade', (response) => (tcp = response.socket));
			socket.once('error', reject);
			socket.once('open', () => {
				const reader = new Reader(socket, tcp!, goal, options.reports ?? false);
				const joinSent = reader.#mark();
				socket.send(envelopeDialect.join(room, options.since));
				reader.#changed = () => {
					if (reader.#closeCode !== undefined) {
						reject(new Error(`closed with ${reader.#closeCode} before joining`));
					} else if (reader.#recovered !== undefined) resolve({ reader, joinSent });
					else return;
					reader.#changed = () => {};
				};
			});
		});
	}

	/** Now, the bytes read so far and the messages got so far: where a catch-up counts from. */
	#mark(): Mark {
		return { ms: performance.now(), bytes: this.#tcp.bytesRead, messages: this.#messages };
	}

	#receive(frame: string): void {
		const message = envelopeDialect.decode(frame);
		if (!message) return;
		if (message.name == JOINED_MESSAGE) {
			const joined = message.data as StreamPosition & { recovered?: boolean };
			this.#recovered = joined.recovered ?? false;
			this.#answeredAt = performance.now();
			this.#joinedAt = { offset: joined.offset, epoch: joined.epoch };
		} else if (message.name == TICK) {
			this.#messages++;
			const { offset, epoch } = message;
			if (offset === undefined || epoch === undefined) throw new Error(`No offset: ${frame}`);
			const previous = this.#position;
			if (previous && previous.epoch == epoch && offset <= previous.offset) this.#inOrder = false;
			this.#position = { offset, epoch };
			this.#count((message.data as CheckData).seq);
		}
		this.#changed();
	}

	#count(seq: number): void {
		if (isUnkeyed(seq, this.#goal.unkeyedEvery)) this.#unkeyedMissing--;
		else if (this.#newest[seq % this.#goal.keys] == seq) this.#keysMissing--;
	}

	/** Whether it holds the newest check of every monitor and every unkeyed message of its goal. */
	get converged(): boolean {
		return this.#keysMissing == 0 && this.#unkeyedMissing == 0;
	}

	/** Its place in the room's stream: the last message it got, or where its join put it. */
	get position(): StreamPosition | undefined {
		return this.#position ?? this.#joinedAt;
	}

	/** Stops reading its socket. */
	pause(): void {
		this.#socket.pause();
	}

	/**
	 * Reads `bytesPerSecond`: every slice it resumes the socket while its allowance lasts, and pauses
	 * it again once a chunk used it up (a chunk may be up to 64 KiB: the debt is paid before the next
	 * read).
	 */
	throttle(bytesPerSecond: number): void {
		const slice = (bytesPerSecond * SLICE_MS) / 1000;
		this.#tcp.on('data', (chunk: Buffer) => {
			if (!this.#throttle) return;
			this.#budget -= chunk.length;
			if (this.#budget <= 0) this.#socket.pause();
		});
		this.#throttle = setInterval(() => {
			this.#budget = Math.min(slice, this.#budget + slice);
			if (this.#budget > 0 && this.#socket.isPaused) this.#socket.resume();
		}, SLICE_MS);
	}

	/**
	 * Reads freely from now until it holds its goal, the server closed it, or `timeoutMs` passed; the
	 * result's time and bytes count from now (or from `since`).
	 */
	catchUp(timeoutMs: number, since = this.#mark()): Promise<ReaderResult> {
		clearInterval(this.#throttle);
		this.#throttle = undefined;
		this.#socket.resume();
		return new Promise((resolve) => {
			const settle = (): void => {
				const done = this.converged || this.#closeCode !== undefined;
				if (!done && performance.now() - since.ms < timeoutMs) return;
				clearInterval(timer);
				this.#changed = () => {};
				resolve({
					converged: this.converged,
					ms: performance.now() - since.ms,
					answeredMs: this.#answeredAfter(since),
					bytes: this.#tcp.bytesRead - since.bytes,
					messages: this.#messages - since.messages,
					inOrder: this.#inOrder,
					recovered: this.#recovered,
					closeCode: this.#closeCode
				});
			};
			const timer = setInterval(settle, 100);
			this.#changed = settle;
			settle();
		});
	}

	/** Ms from `since` to the join's answer, when the join was sent after it (a rejoin's). */
	#answeredAfter(since: Mark): number | undefined {
		const at = this.#answeredAt;
		return at !== undefined && at >= since.ms ? at - since.ms : undefined;
	}

	/** Closes the connection and resolves once it is closed. */
	close(): Promise<void> {
		clearInterval(this.#throttle);
		this.#reads?.stop();
		if (this.#socket.readyState == WebSocket.CLOSED) return Promise.resolve();
		return new Promise((resolve) => {
			this.#socket.once('close', () => resolve());
			this.#socket.resume();
			this.#socket.close();
		});
	}
}
