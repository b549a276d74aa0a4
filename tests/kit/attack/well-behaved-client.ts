import { Connected, Disconnected, type SocketClient } from '../../../src/lib/index.js';
import { makeClient } from '../clients.js';
import { FEED_ROOM, FeedItem, HardeningRoute, Token } from '../servers/hardening-messages.js';
import type { HardeningServer } from '../servers/hardening-server-process.js';
import { EventLog } from '../peers/raw-frames.js';
import { within } from '../wait.js';

/** What the well-behaved client made of the feed. */
export interface FeedTally {
	/** Published numbers it never received. */
	readonly lost: number;
	/** Extra copies it received. */
	readonly duplicated: number;
	/** Received but never published (or out of order). */
	readonly unexpected: number;
	/** Times its connection dropped after it first connected. */
	readonly disconnects: number;
	/** Close codes of those drops. */
	readonly closeCodes: readonly number[];
}

/**
 * A real `SocketClient` (Node, on `ws`) that signs in with a good token on the fixture's auth
 * route, joins `FEED_ROOM` and counts the numbered feed. It must lose nothing, receive nothing
 * twice, and stay connected, whatever other connections do meanwhile. Disposed after the test.
 *
 * @example
 * ```ts
 * const watcher = await WellBehavedClient.join(server);
 * await server.startFeed();
 * // … attack …
 * const { published } = await server.stopFeed();
 * const tally = await watcher.settle(published);
 * ```
 */
export class WellBehavedClient {
	readonly client: SocketClient;
	/** Every feed number its handler saw, in order. */
	readonly received = new EventLog<number>();
	readonly closeCodes: number[] = [];

	private constructor(client: SocketClient) {
		this.client = client;
		client.on(FeedItem, ({ n }) => this.received.push(n));
		client.on(Disconnected, ({ code }) => this.closeCodes.push(code));
	}

	/** Connects, authenticates and joins the feed room; resolves once the join was answered. */
	static async join(server: HardeningServer): Promise<WellBehavedClient> {
		const client = makeClient(server.url(HardeningRoute.auth), { auth: () => Token.good });
		const watcher = new WellBehavedClient(client);
		const connected = within(
			new Promise<void>((resolve) => {
				const off = client.on(Connected, () => {
					off();
					resolve();
				});
			}),
			'the well-behaved client to connect',
			10_000
		);
		const joined = within(
			new Promise<void>((resolve) => {
				const off = client.onMessage((message) => {
					if (message.name != 'room.joined') return;
					off();
					resolve();
				});
			}),
			'the well-behaved client to join the feed',
			10_000
		);
		client.joinRoom(FEED_ROOM);
		client.connect();
		await Promise.all([connected, joined]);
		return watcher;
	}

	/**
	 * Waits (at most `ms`) until every one of the `published` feed numbers arrived, then compares.
	 * Never throws: what did not arrive counts as lost.
	 */
	async settle(published: number, ms = 10_000): Promise<FeedTally> {
		try {
			await this.received.until(
				() => (new Set(this.received.items).size >= published ? true : undefined),
				`${published} feed messages`,
				ms
			);
		} catch {
			// Counted below as lost.
		}
		const items = this.received.items;
		const seen = new Set(items);
		let lost = 0;
		for (let n = 1; n <= published; n++) if (!seen.has(n)) lost++;
		return {
			lost,
			duplicated: items.length - seen.size,
			unexpected: items.filter((n, index) => n > published || (index > 0 && n <= items[index - 1]))
				.length,
			disconnects: this.closeCodes.length,
			closeCodes: [...this.closeCodes]
		};
	}
}
