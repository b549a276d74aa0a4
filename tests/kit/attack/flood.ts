import { closeInfo, encodeFrame, Opcode, RawClient } from '../peers/raw-frames.js';

/** How one flooding connection ended. */
export interface FloodedConnection {
	/** The server's close frame, or undefined when it sent none (or the flood ended first). */
	readonly close: { code: number; reason: string } | undefined;
	/** Frames this connection wrote, including those after the server's close frame. */
	readonly framesSent: number;
	/** Text frames the server sent it (answers, errors). */
	readonly textsReceived: number;
	/** From its first flood frame to the server's close frame, in ms. */
	readonly closedAfterMs: number | undefined;
	/** From the server's close frame to the end of the TCP connection, in ms (undefined: it never ended). */
	readonly terminatedAfterMs: number | undefined;
	/** The connection was still open `closeWithinMs` after the flood's time was up. */
	readonly outlasted: boolean;
}

/** What a whole flood did. */
export interface FloodResult {
	readonly framesSent: number;
	readonly connections: readonly FloodedConnection[];
	/** HTTP statuses of upgrades the server refused. */
	readonly refusedUpgrades: readonly number[];
}

/** Where and what to flood. */
export interface FloodOptions {
	readonly port: number;
	readonly path: string;
	/** Sent as `{name:'auth', data:{token}}` first, waiting for `connected`; none: flood before authenticating. */
	readonly token?: string;
	/** The frame to repeat, as `encodeFrame` builds it (masked). */
	readonly frame: Buffer;
	/** How long to keep flooding, reconnecting whenever the server closed a connection. */
	readonly durationMs: number;
	/** Connections flooding at once. Default 2. */
	readonly attackers?: number;
	/** How long to keep writing after the server's close frame, waiting for it to drop the socket. Default 5 000. */
	readonly afterCloseMs?: number;
	/**
	 * How long a connection opened just before the time was up may go on flooding until the server
	 * closes it; one still open then outlasted the flood. Default 5 000.
	 */
	readonly closeWithinMs?: number;
}

/** When each flooding connection's TCP connection ended. */
const endedAt = new WeakMap<RawClient, number>();

/** About 64 KiB of the repeated frame per write. */
function block(frame: Buffer): { bytes: Buffer; frames: number } {
	const frames = Math.max(1, Math.min(2_000, Math.floor(65_536 / frame.length)));
	return { bytes: Buffer.concat(Array.from({ length: frames }, () => frame)), frames };
}

/**
 * Resolves when the socket can take more, closed, or the server sent something (its close frame:
 * a server that stops reading a closed peer never drains it).
 */
function drained(client: RawClient): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			client.socket.off('drain', done);
			client.socket.off('close', done);
			client.socket.off('data', done);
			resolve();
		};
		client.socket.once('drain', done);
		client.socket.once('close', done);
		client.socket.once('data', done);
	});
}

/** The server's close frame: the last frame it sends, so only the newest needs a look. */
function closeFrameOf(client: RawClient): { code: number; reason: string } | undefined {
	const frame = client.frames.items.at(-1);
	return frame?.opcode == Opcode.Close ? closeInfo(frame) : undefined;
}

/** Writes blocks as fast as the socket takes them until `stop()` says so. */
async function blast(
	client: RawClient,
	bytes: Buffer,
	frames: number,
	stop: () => boolean
): Promise<number> {
	let sent = 0;
	while (!stop() && !client.isClosed) {
		sent += frames;
		if (!client.socket.write(bytes)) await drained(client);
	}
	return sent;
}

/** Authenticates a raw client on a first-message route and waits for its `connected`. */
export async function signIn(client: RawClient, token: string): Promise<void> {
	client.sendText({ name: 'auth', data: { token } });
	await client.waitForText((text) => text.includes('"connected"'), 'connected', 10_000);
}

/**
 * One connection's flood: until the server closes it (then on, to see it dropped), or until it
 * outlasted the flood's time by `closeWithinMs`.
 */
async function floodOne(
	client: RawClient,
	options: FloodOptions,
	deadline: number
): Promise<FloodedConnection> {
	const { bytes, frames } = block(options.frame);
	const started = performance.now();
	let framesSent = await blast(
		client,
		bytes,
		frames,
		() =>
			closeFrameOf(client) !== undefined ||
			performance.now() >= deadline + (options.closeWithinMs ?? 5_000)
	);
	const close = closeFrameOf(client);
	const closedAt = close ? performance.now() : undefined;
	if (closedAt !== undefined) {
		// A peer that never answers the close handshake and keeps sending must still be dropped.
		const giveUpAt = closedAt + (options.afterCloseMs ?? 5_000);
		framesSent += await blast(client, bytes, frames, () => performance.now() >= giveUpAt);
	}
	const outlasted = !client.isClosed && close === undefined;
	const terminatedAfterMs =
		closedAt !== undefined && client.isClosed ? await endedAfter(client, closedAt) : undefined;
	client.destroy();
	return {
		close,
		framesSent,
		textsReceived: client.texts.length,
		closedAfterMs: closedAt === undefined ? undefined : Math.round(closedAt - started),
		terminatedAfterMs,
		outlasted
	};
}

/** When the TCP connection ended, relative to `since` (it has ended already). */
async function endedAfter(client: RawClient, since: number): Promise<number> {
	await client.ended;
	return Math.round((endedAt.get(client) ?? performance.now()) - since);
}

async function connect(options: FloodOptions): Promise<RawClient> {
	const client = await RawClient.connect(options.port, { path: options.path });
	void client.ended.then(() => endedAt.set(client, performance.now()));
	return client;
}

/**
 * Floods the server with one frame repeated as fast as the sockets take it, from `attackers`
 * connections at once, for `durationMs`: each connection floods until the server closes it, keeps
 * writing after the close frame (as an attacker would) until the server drops it, and is replaced
 * by a new one while time is left.
 *
 * @example
 * ```ts
 * const result = await flood({ port, path: '/ws', token: 'good', frame: encodeFrame(Opcode.Text, '2'), durationMs: 2_000 });
 * expect(result.connections.every((connection) => connection.close?.code == 1008)).toBe(true);
 * ```
 */
export async function flood(options: FloodOptions): Promise<FloodResult> {
	const deadline = performance.now() + options.durationMs;
	const connections: Promise<FloodedConnection>[] = [];
	const refusedUpgrades: number[] = [];
	const attacker = async () => {
		while (performance.now() < deadline) {
			const client = await connect(options);
			if (client.status != 101) {
				refusedUpgrades.push(client.status);
				client.destroy();
				continue;
			}
			if (options.token !== undefined) await signIn(client, options.token);
			const flooded = floodOne(client, options, deadline);
			connections.push(flooded);
			// The next connection starts once this one was closed (or time is up), not once it ended.
			await Promise.race([
				flooded,
				client.frames.until(
					() => (closeFrameOf(client) || client.isClosed ? true : undefined),
					'the close',
					options.durationMs + Math.max(10_000, options.closeWithinMs ?? 0)
				)
			]);
		}
	};
	await Promise.all(Array.from({ length: options.attackers ?? 2 }, attacker));
	const settled = await Promise.all(connections);
	return {
		framesSent: settled.reduce((total, connection) => total + connection.framesSent, 0),
		connections: settled,
		refusedUpgrades
	};
}

/**
 * One text frame, masked as a client's.
 *
 * @example
 * ```ts
 * flood({ …, frame: textFrame('2') });
 * ```
 */
export function textFrame(text: string): Buffer {
	return encodeFrame(Opcode.Text, text);
}
