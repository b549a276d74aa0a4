/* eslint-disable svelte/prefer-svelte-reactivity */
// No SvelteSet: the handler Set is not state, and each joinedRooms Set published through $state.raw
// is new and never changed after.
import { onDestroy, untrack } from 'svelte';
import { createSubscriber } from 'svelte/reactivity';
import {
	Connected,
	ReconnectAttempt,
	Unrecoverable,
	type ConnectionState,
	type SocketError
} from '../client/events.js';
import {
	SocketClient,
	type RequestOptions,
	type SendOptions,
	type SocketClientOptions,
	type UrlSource
} from '../client/socket-client.js';
import type { PauseReason } from '../client/environment.js';
import { Outbox, type OutboxOptions } from '../client/outbox.js';
import { watchPresence } from '../client/presence.js';
import type { InboundMessage, StreamPosition } from '../protocol/envelope.js';
import { validateMessage, type MessageDefinition } from '../protocol/message.js';
import { Batch, type Schedule } from './batch.js';
import { Collection, type CollectionOptions } from './collection.svelte.js';
import type { FeedHost } from './feed.js';
import { Inbox } from './inbox.js';
import { Latest, type LatestOptions } from './latest.svelte.js';
import { Presence } from './presence.svelte.js';
import { Stream, type StreamOptions } from './stream.svelte.js';

/**
 * Options of `LiveSocket`: the `SocketClient` options (used when it creates the client), how
 * updates are batched, and its outbox.
 *
 * @example
 * ```ts
 * const options: LiveSocketOptions = {
 * 	auth: () => getToken(),
 * 	schedule: (flush) => queueMicrotask(flush),
 * 	outbox: { storage: globalThis.sessionStorage } // undefined during SSR: memory only there
 * };
 * ```
 */
export interface LiveSocketOptions extends SocketClientOptions {
	/**
	 * Decides when waiting messages are validated and handed to the feeds, and updates published
	 * (`lastMessage`, every latest, stream and collection, all in one flush). Default: the next
	 * animation frame when the window has `requestAnimationFrame`, else the next microtask.
	 */
	schedule?: Schedule;
	/**
	 * Makes `outbox` at once, with these options (`true`: the defaults), so that what a reloaded
	 * page's outbox left in `storage` is sent as soon as the connection opens. On the server the
	 * storage is left out: nothing is read or written there. Without it, `outbox` is made with the
	 * defaults (memory only) the first time it is read.
	 */
	outbox?: OutboxOptions | true;
}

/**
 * What a `LiveSocket` does with its client: leaves it alone (`idle`: nothing reads and `connect()`
 * does not keep it open), keeps it connected (`driving`), or is done with it for good (`disposed`).
 */
type Lifecycle = 'idle' | 'driving' | 'disposed';

/** The client's connection as the fields show it: replaced as a whole whenever any part changes. */
interface ConnectionView {
	readonly state: ConnectionState;
	readonly pausedBy: PauseReason | undefined;
	readonly attempt: number;
}

/** A feed following a definition: its handler, and the room it listens to (any, when undefined). */
interface Follower {
	readonly room: string | undefined;
	readonly take: (data: never) => void;
}

/** The feeds following one definition, and the one client handler they share. */
interface Following {
	readonly feeds: Set<Follower>;
	readonly off: () => void;
}

/**
 * Calls `handler`, which must not stop the handlers after it if it throws, nor vanish: its error is
 * reported like an uncaught one where the platform can (browsers), as the client does with its own.
 */
function isolated(handler: () => void): void {
	try {
		handler();
	} catch (error) {
		(globalThis.reportError ?? console.error)(error);
	}
}

/** `options` as they may be used here: on the server (SSR), without a storage to read or write. */
function serverSafe(options: OutboxOptions): OutboxOptions {
	return typeof window == 'undefined' ? { ...options, storage: false } : options;
}

/**
 * Runs `teardown` when the component being initialised is destroyed. Outside of one (an event
 * handler, a plain module) it does nothing: whoever called cleans up.
 */
function onComponentDestroy(teardown: () => void): void {
	try {
		onDestroy(teardown);
	} catch {
		// Not initialising a component.
	}
}

/**
 * A `SocketClient` as runes. Its fields and the feeds it makes (`latest`, `stream`, `collection`)
 * are reactive, and reading any of them in an effect or a template retains the connection: it opens
 * with the first reader and closes one tick after the last one leaves, unless `connect()` keeps it
 * open too. Nothing connects on the server. Incoming messages wait for the next flush (an animation
 * frame by default), which validates them, hands them to the feeds in arrival order and publishes
 * every feed once, however many arrived in between. A keyed room message (`conflationKey`) that a
 * later waiting one of the same room, name and key supersedes is skipped: never validated, never
 * shown.
 *
 * The `LiveSocket` drives its client's connection, also when it was given one. Created while a
 * component initialises, it is disposed when that component is destroyed; created anywhere else,
 * call `dispose()` when done with it.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 * 	import { LiveSocket } from 'runesocket/svelte';
 * 	import { IncidentCreated } from '$lib/messages';
 *
 * 	const socket = new LiveSocket('wss://example.com/ws');
 * 	const incidents = socket.stream(IncidentCreated);
 * </script>
 *
 * <p>{socket.state}</p>
 * {#each incidents.current as incident (incident.uuid)}<li>{incident.title}</li>{/each}
 * ```
 */
export class LiveSocket {
	#client: SocketClient;
	/** Whether the client is this LiveSocket's own (created from a URL), so dispose() disposes it. */
	#owned: boolean;
	/** Changed only by #enter, which undoes what the phase it leaves did to the client. */
	#lifecycle: Lifecycle = 'idle';
	#connection = $state.raw<ConnectionView>({
		state: 'disconnected',
		pausedBy: undefined,
		attempt: 0
	});
	#lastMessage = $state.raw<InboundMessage | undefined>();
	#joinedRooms = $state.raw<ReadonlySet<string>>(new Set());
	#error = $state.raw<SocketError | undefined>();
	/** The newest message, published to `lastMessage` at the next flush. */
	#newestMessage: InboundMessage | undefined;
	#batch: Batch;
	/** Subscribers (fields or feeds) read in at least one effect. */
	#readers = 0;
	/** `connect()` was called, and `disconnect()` not since: the connection stays open unread. */
	#connectCalled = false;
	/** Every handler this LiveSocket has on the client, so that dispose() removes them all. */
	#handlers = new Set<() => void>();
	#subscribe = createSubscriber(() => this.#retain());
	/** The presences being watched: emptied when the server takes their room away. */
	#presences = new Set<{ room: string; empty: () => void }>();
	/** What the feeds being read built from each room, to forget when it turns out unrecoverable. */
	#resets = new Set<{ room: string | undefined; reset: () => void }>();
	#publishMessage = () => (this.#lastMessage = this.#newestMessage);
	/** What waits for the flush's delivery stage: feed messages and resets, in arrival order. */
	#inbox = new Inbox(
		() => this.#batch.deliver(this.#inbox.drain),
		(message, issues) => this.#client.reportInvalid(message, issues)
	);
	/** The feeds following each definition: one client handler per definition, however many feeds. */
	#following = new Map<MessageDefinition<unknown>, Following>();
	/** Made by the constructor when options name one, else by the first read of `outbox`. */
	#outbox: Outbox | undefined;

	/** What the feeds get: subscriptions that retain the connection, and the shared batch. */
	#host: FeedHost = {
		follow: (definition, handler, room) => {
			if (this.#lifecycle == 'disposed') return () => {};
			const following = this.#following.get(definition) ?? this.#startFollowing(definition);
			const follower: Follower = { room, take: handler };
			following.feeds.add(follower);
			const release = this.#retain();
			return () => {
				following.feeds.delete(follower);
				if (!following.feeds.size && this.#following.get(definition) == following) {
					following.off();
					this.#handlers.delete(following.off);
					this.#following.delete(definition);
				}
				release();
			};
		},
		schedule: (publish) => this.#batch.add(publish),
		watchPresence: (room, onChange) => {
			if (this.#lifecycle == 'disposed') return () => {};
			const { stop } = watchPresence(this.#client, room, onChange);
			// Its handlers and its join of the room are this LiveSocket's: dispose() ends them too,
			// also on a client it was given, which outlives it.
			this.#handlers.add(stop);
			const watch = { room, empty: () => onChange(new Map()) };
			this.#presences.add(watch);
			const release = this.#retain();
			this.#roomsChanged();
			return () => {
				this.#presences.delete(watch);
				stop();
				this.#handlers.delete(stop);
				release();
				this.#roomsChanged();
			};
		},
		onReset: (room, reset) => {
			if (this.#lifecycle == 'disposed') return () => {};
			const registration = { room, reset };
			this.#resets.add(registration);
			return () => this.#resets.delete(registration);
		}
	};

	/**
	 * Wraps `source`: a URL (or URL function) to create a `SocketClient` from, with `options`; or a
	 * client to drive, in which case only `options.schedule` is used.
	 */
	constructor(source: UrlSource | SocketClient, options: LiveSocketOptions = {}) {
		const { schedule, outbox, ...clientOptions } = options;
		this.#owned = !(source instanceof SocketClient);
		this.#client =
			source instanceof SocketClient ? source : new SocketClient(source, clientOptions);
		this.#batch = new Batch(schedule);
		const { connectionState: state, pausedBy } = this.#client;
		this.#connection = { state, pausedBy, attempt: 0 };
		this.#joinedRooms = this.#client.joinedRooms;
		// Listened to for the LiveSocket's whole life, not only while read, so that a field read
		// outside an effect (an event handler, say) is never stale. They cost nothing while idle.
		for (const off of [
			// Also called when only pausedBy changed.
			this.#client.onStateChange((state) => this.#show({ state, pausedBy: this.#client.pausedBy })),
			this.#client.on(ReconnectAttempt, ({ attempt }) => this.#show({ attempt })),
			this.#client.on(Connected, () => this.#show({ attempt: 0 })),
			// In turn with the messages: one that came before the answer must not land after the reset.
			this.#client.on(Unrecoverable, ({ room }) =>
				this.#inbox.post({
					hand: () => {
						for (const feed of this.#resets)
							if (feed.room === undefined || feed.room == room) isolated(feed.reset);
					}
				})
			),
			this.#client.onError((error) => {
				this.#error = error;
				// The client reports a room the server took away (`forbidden`) after it dropped it.
				this.#roomsChanged();
				this.#emptyDroppedPresences();
			}),
			this.#client.onMessage((message) => {
				this.#newestMessage = message;
				this.#batch.add(this.#publishMessage);
			})
		]) {
			this.#handlers.add(off);
		}
		if (outbox) this.#outbox = new Outbox(this.#client, serverSafe(outbox === true ? {} : outbox));
		// Those handlers make the client keep this LiveSocket (and its feeds) for as long as the
		// client lives: a component that made one and forgot it would leak both for good.
		onComponentDestroy(() => this.dispose());
	}

	/**
	 * The `Outbox` around the client: requests applied exactly once however the connection fares,
	 * and messages kept until it opens (and, with `storage`, across a reload). It sends while the
	 * connection is open: while something reads or after `connect()`. Disposed with the LiveSocket.
	 *
	 * @example
	 * ```ts
	 * import { getSocket } from 'runesocket/svelte';
	 *
	 * const socket = getSocket();
	 * const incidents = socket.collection(IncidentCreated, { key: (incident) => incident.uuid });
	 * const draft = { uuid: crypto.randomUUID(), title: 'DB down', severity: 'critical' as const, accountId: 'acme' };
	 * void incidents.optimistic(draft.uuid, draft, socket.outbox.request(CreateIncident, { title: draft.title }));
	 * ```
	 */
	get outbox(): Outbox {
		if (!this.#outbox) {
			this.#outbox = new Outbox(this.#client, serverSafe({}));
			// Read first after dispose(): it takes nothing in, and keeps no handler on the client.
			if (this.#lifecycle == 'disposed') this.#outbox.dispose();
		}
		return this.#outbox;
	}

	/** The wrapped client: the one created from the URL, or the one given. */
	get client(): SocketClient {
		return this.#client;
	}

	/** The connection state, as `client.connectionState`. */
	get state(): ConnectionState {
		this.#subscribe();
		return this.#connection.state;
	}

	/**
	 * Why a `disconnected` connection waits rather than stopped, as `client.pausedBy`: the page is
	 * `offline`, `hidden` or `frozen` (in the back/forward cache), and it reconnects by itself when
	 * that ends. `undefined` in every other state, and when stopped (nothing reads, `disconnect()`,
	 * `dispose()`, or the client gave up).
	 */
	get pausedBy(): PauseReason | undefined {
		this.#subscribe();
		return this.#connection.pausedBy;
	}

	/** Whether the state is `connected`. */
	get isConnected(): boolean {
		return this.state == 'connected';
	}

	/** The current reconnect attempt (from 1); 0 once connected. */
	get attempt(): number {
		this.#subscribe();
		return this.#connection.attempt;
	}

	/** The newest inbound message, whatever its name; published once per flush. */
	get lastMessage(): InboundMessage | undefined {
		this.#subscribe();
		return this.#lastMessage;
	}

	/**
	 * The rooms joined, as `client.joinedRooms`: a new Set whenever membership changes through this
	 * LiveSocket, or the server takes a room away (a `forbidden` error, then in `error`, after a
	 * token refresh or a role change no longer allows it).
	 */
	get joinedRooms(): ReadonlySet<string> {
		this.#subscribe();
		return this.#joinedRooms;
	}

	/** The newest error the client reported. */
	get error(): SocketError | undefined {
		this.#subscribe();
		return this.#error;
	}

	/**
	 * Keeps the connection open even with no reader (e.g. before a `send` from a click handler),
	 * and starts over a client that gave up. Does nothing on the server.
	 */
	connect(): void {
		// A socket opened during SSR would outlive the request it was rendered for.
		if (typeof window == 'undefined') return;
		this.#connectCalled = true;
		// Already driving, the client may have given up (ReconnectFailed): connect() starts it over.
		if (this.#lifecycle == 'driving') this.#client.connect();
		else this.#sync();
	}

	/** Undoes `connect()`: the connection closes unless something still reads. */
	disconnect(): void {
		this.#connectCalled = false;
		this.#sync();
	}

	/**
	 * Joins `room`, as `client.joinRoom`, and returns the function that leaves it. Called while a
	 * component initialises, the room is also left when that component is destroyed. With `since`
	 * (the position the page's data was loaded at), everything published after it is replayed into
	 * the feeds.
	 *
	 * @example
	 * ```svelte
	 * <script lang="ts">
	 * 	import { getSocket } from 'runesocket/svelte';
	 * 	getSocket().joinRoom('project:7'); // left when this component is destroyed
	 * </script>
	 * ```
	 */
	joinRoom(room: string, since?: StreamPosition): () => void {
		const leaveOnClient = this.#client.joinRoom(room, since);
		this.#roomsChanged();
		const leave = () => {
			leaveOnClient();
			this.#roomsChanged();
		};
		onComponentDestroy(leave);
		return leave;
	}

	/**
	 * Releases one join of `room`, as `client.leaveRoom`: the leave goes out when the last join is
	 * released. For a join without its function at hand; the function `joinRoom` returned leaves once.
	 */
	leaveRoom(room: string): void {
		this.#client.leaveRoom(room);
		this.#roomsChanged();
	}

	/** Forgets every room without sending leaves, as `client.clearRooms()`. */
	clearRooms(): void {
		this.#client.clearRooms();
		this.#roomsChanged();
	}

	/** The newest `definition` message (published to `options.room`, when given). */
	latest<T>(definition: MessageDefinition<T>, options?: LatestOptions): Latest<T> {
		return new Latest(this.#host, definition, options);
	}

	/**
	 * Who is in `room` (a reactive `ReadonlyMap` of user id to `{data, connections}`), for rooms the
	 * server keeps presence for. Reading it joins the room; the last reader leaving releases it.
	 */
	presence<Data = unknown>(room: string): Presence<Data> {
		return new Presence<Data>(this.#host, room);
	}

	/** The newest `definition` messages, newest first, at most `options.limit` (default 50). */
	stream<T>(definition: MessageDefinition<T>, options?: StreamOptions): Stream<T> {
		return new Stream(this.#host, definition, options);
	}

	/** The `definition` messages' items by `options.key`, minus those `options.remove` removes. */
	collection<T, K, R = T>(
		definition: MessageDefinition<T>,
		options: CollectionOptions<T, K, R>
	): Collection<T, K> {
		const { key, remove, initial, room, keepWhenUnrecoverable } = options;
		// Without removeKey, CollectionOptions demands removal data shaped like (part of) an item.
		const removeKey = options.removeKey ?? (key as unknown as (data: R) => K);
		return new Collection(this.#host, definition, {
			key,
			initial,
			room,
			keepWhenUnrecoverable,
			removals:
				remove && ((drop) => this.#host.follow(remove, (data) => drop(removeKey(data)), room))
		});
	}

	/** Sends a typed message, as `client.emit`: buffered while disconnected unless `{ buffer: false }`. */
	emit<Data>(definition: MessageDefinition<Data>, data: Data, options?: SendOptions): void {
		this.#client.emit(definition, data, options);
	}

	/** Sends a message by name, untyped, as `client.send`. */
	send(name: string, data?: unknown, options?: SendOptions): void {
		this.#client.send(name, data, options);
	}

	/**
	 * Sends a frame as it is, outside the envelope (a bare token, a foreign protocol), as
	 * `client.sendRaw`: throws `Not connected` while disconnected unless `{ buffer: true }`.
	 */
	sendRaw(data: string, options?: SendOptions): void {
		this.#client.sendRaw(data, options);
	}

	/** Sends a message the server answers, as `client.request`. */
	request<Reply = unknown, Data = unknown>(
		definition: MessageDefinition<Data>,
		data: Data,
		options?: RequestOptions
	): Promise<Reply> {
		return this.#client.request<Reply, Data>(definition, data, options);
	}

	/**
	 * Removes every handler this LiveSocket added (its presences' too, releasing their rooms), cancels
	 * its waiting flush and disposes the client it created. A client it was given is only
	 * disconnected (if the LiveSocket had connected it) and left to its owner. Nothing of it publishes
	 * after this. Called by itself when the component that created it is destroyed.
	 */
	dispose(): void {
		this.#enter('disposed');
	}

	/** Counts one more reader until the returned function is called. */
	#retain(): () => void {
		this.#readers++;
		this.#sync();
		return () => {
			this.#readers--;
			this.#sync();
		};
	}

	/** Drives the client while anything reads or `connect()` was called; leaves it alone otherwise. */
	#sync(): void {
		this.#enter(this.#connectCalled || this.#readers > 0 ? 'driving' : 'idle');
	}

	/** The one place the lifecycle changes: undoes what the phase left did, then starts the next. */
	#enter(next: Lifecycle): void {
		const left = this.#lifecycle;
		if (left == next || left == 'disposed') return;
		this.#lifecycle = next;
		// Only on a change: disconnect() also empties the client's send buffer.
		if (next == 'driving') return this.#client.connect();
		if (next == 'disposed' && this.#owned) this.#client.dispose();
		else if (left == 'driving') this.#client.disconnect();
		// No attempt is under way once the LiveSocket lets go of the connection.
		this.#show({ attempt: 0 });
		if (next != 'disposed') return;
		for (const off of this.#handlers) off();
		this.#handlers.clear();
		this.#outbox?.dispose();
		this.#resets.clear();
		this.#presences.clear();
		this.#following.clear();
		this.#inbox.clear();
		this.#batch.clear();
	}

	/**
	 * Subscribes to `definition` on the client for the feeds that will follow it. With a schema-less
	 * twin: the client hands the data as it came, and the inbox validates it at the flush, once for
	 * all of them, unless a later message supersedes it by then.
	 */
	#startFollowing(definition: MessageDefinition<unknown>): Following {
		const feeds = new Set<Follower>();
		const twin = { name: definition.name, schema: undefined };
		const off = this.#client.on(twin, (data, message) =>
			this.#inbox.post({
				message,
				// Nothing to validate once no feed follows it any more.
				validate: () => (feeds.size ? validateMessage(definition, data) : { value: data }),
				hand: (value) => {
					for (const feed of feeds) {
						// A feed before this one may have disposed the LiveSocket.
						if (this.#lifecycle == 'disposed') return;
						if (feed.room === undefined || feed.room == message.room) {
							isolated(() => feed.take(value as never));
						}
					}
				}
			})
		);
		this.#handlers.add(off);
		const following = { feeds, off };
		this.#following.set(definition, following);
		return following;
	}

	/** Publishes the connection with `change` applied. */
	#show(change: Partial<ConnectionView>): void {
		// Untracked: a handler can run inside an effect (one whose read connects), which must not
		// come to depend on the state it changes.
		const shown = untrack(() => this.#connection);
		const next = { ...shown, ...change };
		// A new object only for a real change: readers of the fields re-run on every new one.
		const { state, pausedBy, attempt } = next;
		if (state != shown.state || pausedBy != shown.pausedBy || attempt != shown.attempt) {
			this.#connection = next;
		}
	}

	/**
	 * Empties, once, the presence of every watched room the client no longer holds: the server took it
	 * away, and no change of it comes any more.
	 */
	#emptyDroppedPresences(): void {
		const rooms = this.#client.joinedRooms;
		for (const watch of this.#presences) {
			if (rooms.has(watch.room)) continue;
			this.#presences.delete(watch);
			watch.empty();
		}
	}

	/** Publishes a new `joinedRooms` Set when membership differs from the published one. */
	#roomsChanged(): void {
		// A reader let go after dispose(): nothing is published any more.
		if (this.#lifecycle == 'disposed') return;
		const rooms = this.#client.joinedRooms; // a snapshot, new on every read
		// Untracked: `$effect(() => socket.joinRoom(room))` must not depend on the rooms it changes.
		const published = untrack(() => this.#joinedRooms);
		if (rooms.size != published.size || [...rooms].some((room) => !published.has(room))) {
			this.#joinedRooms = rooms;
		}
	}
}
