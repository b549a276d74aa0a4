// What the conflation tests share (tests/integration/conflation*.test.ts and
// tests/integration/redis/conflation*.test.ts): a keyed and an unkeyed message, and a log of a room
// as a SocketClient's handlers see it, checked against the rule of PROTOCOL.md "Conflation": every
// unkeyed message, the newest per key, offsets increasing, a skipped offset only where a later
// message of the same key follows.
import type { Socket } from 'node:net';
import { expect } from 'vitest';
import type WebSocket from 'ws';
import {
	ClientMessage,
	Connected,
	Unrecoverable,
	type InboundMessage,
	type MessageDefinition,
	type SocketClient,
	type StreamPosition
} from '../../src/lib/index.js';
import { Signal } from './chaos.js';
import { parseEnvelope } from './envelope.js';
import { errorsOf, makeClient } from './clients.js';
import { nextEvent, until } from './wait.js';

/** A latest value: conflated per `key`. `pad` makes it as large as a test needs. */
export const State = ClientMessage.define<{ key: string; n: number; pad?: string }>('state', {
	conflationKey: (state) => state.key
});
/** Never conflated. */
export const Log = ClientMessage.define<{ n: number; pad?: string }>('log');

/** One room message as a handler saw it. */
export interface Seen {
	readonly name: string;
	readonly offset: number;
	readonly key: string | undefined;
	readonly n: number;
}

/** What one client's handlers saw of `room`: its messages, Unrecoverables and join answers. */
export interface RoomLog {
	readonly messages: Seen[];
	readonly unrecoverable: string[];
	readonly answers: Record<string, unknown>[];
	/** The offset of the last room message seen (0 before any). */
	readonly last: number;
	/** Resolves once the last offset seen is `offset`. */
	reaches(offset: number, what: string, ms?: number): Promise<void>;
	/** Resolves once `count` join answers came. */
	answered(count: number): Promise<void>;
}

/** Logs `client`'s messages of `room` (the ones its handlers get: duplicates are dropped before). */
export function logRoom(client: SocketClient, room: string): RoomLog {
	const signal = new Signal();
	const log: RoomLog = {
		messages: [],
		unrecoverable: [],
		answers: [],
		get last() {
			return log.messages.at(-1)?.offset ?? 0;
		},
		reaches: (offset, what, ms = 10_000) => signal.until(() => log.last >= offset, what, ms),
		answered: (count) => signal.until(() => log.answers.length >= count, `${count} join answers`)
	};
	client.onMessage((message: InboundMessage) => {
		if (message.name == 'room.joined') {
			const answer = message.data as Record<string, unknown>;
			if (answer.room == room) log.answers.push(answer);
		} else if (message.room == room && typeof message.offset == 'number') {
			const data = message.data as { n: number };
			log.messages.push({
				name: message.name,
				offset: message.offset,
				key: message.conflationKey,
				n: data.n
			});
		} else return;
		signal.changed();
	});
	client.on(Unrecoverable, ({ room: lost }) => {
		log.unrecoverable.push(lost);
		signal.changed();
	});
	return log;
}

/** The TCP socket under a `ws` client (a SocketClient's `socket`), to pause reading for real. */
export function tcpOf(socket: unknown): Socket {
	return (socket as WebSocket & { _socket: Socket })._socket;
}

/**
 * Checks `got` (what a reader that may have fallen behind saw) against `all` (every message of the
 * room, in offset order): a subsequence of it, offsets strictly increasing, every unkeyed message,
 * the newest message of every key, and every message it lacks keyed and followed, in `got`, by a
 * later one of the same name and key. Returns how many it lacks.
 */
export function expectConflatedStream(got: readonly Seen[], all: readonly Seen[]): number {
	const byOffset = new Map(all.map((message) => [message.offset, message]));
	for (let index = 1; index < got.length; index++) {
		expect(got[index].offset, `offset after ${got[index - 1].offset}`).toBeGreaterThan(
			got[index - 1].offset
		);
	}
	for (const message of got) expect(byOffset.get(message.offset)).toEqual(message);
	const idOf = (message: Seen) => JSON.stringify([message.name, message.key]);
	const gotOffsets = new Set(got.map((message) => message.offset));
	const lastGotOf = new Map<string, number>();
	for (const message of got)
		if (message.key !== undefined) lastGotOf.set(idOf(message), message.offset);
	const newest = new Map<string, number>();
	for (const message of all)
		if (message.key !== undefined) newest.set(idOf(message), message.offset);
	let missing = 0;
	for (const message of all) {
		if (gotOffsets.has(message.offset)) continue;
		missing++;
		expect(
			message.key,
			`unkeyed offset ${message.offset} (${message.name} ${message.n}) missing`
		).toBeDefined();
		expect(
			lastGotOf.get(idOf(message)) ?? 0,
			`keyed offset ${message.offset} missing, and no later one of its key came`
		).toBeGreaterThan(message.offset);
	}
	for (const [id, offset] of newest) {
		expect(gotOffsets.has(offset), `the newest of ${id} (offset ${offset})`).toBe(true);
	}
	return missing;
}

/** A second keyed message, with the same keys as `State`: (name, key) is what conflates, not key alone. */
export const Other = ClientMessage.define<{ key: string; n: number }>('state.other', {
	conflationKey: (other) => other.key
});

/** Where the away scenario publishes, and what it reads of the server. */
export interface AwayScenario {
	readonly url: string;
	readonly room: string;
	/** Publishes as `server.publish` or `RedisPublisher.publish` do: the message's position. */
	publish(
		definition: MessageDefinition<never>,
		data: unknown,
		conflationKey?: string | null
	): Promise<StreamPosition | undefined>;
	position(): Promise<StreamPosition>;
	/** `runesocket_messages_conflated_total` of the client's route. */
	conflated(): number;
	/** The server's open connections. */
	connections(): number;
}

/**
 * A client reads `live` messages, disconnects, `away` messages are published over `keys` keys (one in
 * ten unkeyed, one in seven a `State` whose publish removes its key, a few `Other`s with the same
 * keys), and it comes back with its position: the replay must be recovered, hold exactly the unkeyed
 * ones and the newest per name and key, in offset order, and end at the room's position; the metric
 * counts the rest. Returns what the client saw while connected the first time (for pub/sub checks).
 */
export async function expectReplayConflated(
	scenario: AwayScenario,
	{ live = 5, away = 300, keys = 7 } = {}
): Promise<Seen[]> {
	const { room } = scenario;
	const client = makeClient(scenario.url, { heartbeatInterval: 0, reconnectDelay: 1 });
	const log = logRoom(client, room);
	client.joinRoom(room);
	client.connect();
	await log.answered(1);
	for (let n = 0; n < live; n++) {
		await scenario.publish(State as MessageDefinition<never>, { key: `k${n % keys}`, n });
	}
	await log.reaches((await scenario.position()).offset, 'the live messages');
	const seenLive = [...log.messages];
	const since = log.last;

	client.disconnect();
	await until(() => scenario.connections() == 0, 'the server to see the client leave');
	const published: Seen[] = [];
	for (let n = 0; n < away; n++) {
		const key = `k${n % keys}`;
		let seen: Omit<Seen, 'offset'>;
		let position: StreamPosition | undefined;
		if (n % 10 == 0) {
			position = await scenario.publish(Log as MessageDefinition<never>, { n });
			seen = { name: 'log', key: undefined, n };
		} else if (n % 7 == 0) {
			position = await scenario.publish(State as MessageDefinition<never>, { key, n }, null);
			seen = { name: 'state', key: undefined, n };
		} else if (n % 5 == 0) {
			position = await scenario.publish(Other as MessageDefinition<never>, { key, n });
			seen = { name: 'state.other', key, n };
		} else {
			position = await scenario.publish(State as MessageDefinition<never>, { key, n });
			seen = { name: 'state', key, n };
		}
		published.push({ ...seen, offset: position!.offset });
	}
	const end = await scenario.position();
	expect(end.offset).toBe(since + away);
	const expected = published.filter(
		(message, index) =>
			message.key === undefined ||
			!published
				.slice(index + 1)
				.some((later) => later.name == message.name && later.key == message.key)
	);
	const before = scenario.conflated();

	const connected = nextEvent(client, Connected, 10_000);
	client.connect();
	expect(await connected).toEqual({ reconnected: true, recovered: true });
	await log.reaches(end.offset, 'the replay');
	expect(log.answers.at(-1)).toEqual({ room, ...end, recovered: true });
	expect(log.messages.slice(seenLive.length)).toEqual(expected);
	expect(expected.length).toBeLessThan(away / 2);
	expect(scenario.conflated() - before).toBe(away - expected.length);
	expect(log.unrecoverable).toEqual([]);
	expect(errorsOf(client)).toEqual([]);
	return seenLive;
}

/** A room delivery as a raw peer's frame, as `Seen` (undefined for any other frame). */
export function seenInFrame(frame: string): Seen | undefined {
	const message = parseEnvelope(frame);
	if (!message || typeof message.offset != 'number') return undefined;
	const { n } = message.data as { n: number };
	return { name: message.name, offset: message.offset, key: message.conflationKey, n };
}

/** What `Peer` (tests/kit/limits.ts) gives `newestStates`: its frames as they come. */
interface StateFrames {
	readonly frames: {
		readonly items: readonly string[];
		until<T>(check: () => T | undefined, what: string, ms?: number): Promise<T>;
	};
}

/**
 * Waits until `peer`'s newest frame is `State` number `last` (keys `k<n % keys>`), then reads the
 * newest `n` of each key from the end: each of those frames must name its data's key as its
 * conflation key. Only the newest frame is checked on each arrival (every frame would be quadratic).
 */
export async function newestStates(
	peer: StateFrames,
	last: number,
	keys: number
): Promise<Map<string, number>> {
	const prefix = `["state",{"key":"k${last % keys}","n":${last},`;
	await peer.frames.until(
		() => (peer.frames.items.at(-1)?.startsWith(prefix) ? true : undefined),
		'the last state',
		10_000
	);
	const newest = new Map<string, number>();
	const { items } = peer.frames;
	for (let index = items.length - 1; newest.size < keys && index >= 0; index--) {
		const message = parseEnvelope(items[index]);
		if (message?.name != State.name) continue;
		const { key, n } = message.data as { key: string; n: number };
		expect(message.conflationKey).toBe(key);
		if (!newest.has(key)) newest.set(key, n);
	}
	return newest;
}

/** The newest `n` of each key `k<n % keys>` after states 0 … `count - 1`. */
export function lastStates(count: number, keys: number): Map<string, number> {
	return new Map(
		Array.from({ length: keys }, (_, index) => [
			`k${(count - keys + index) % keys}`,
			count - keys + index
		])
	);
}
