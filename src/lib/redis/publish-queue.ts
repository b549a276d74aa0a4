import { isRecord } from '../protocol/envelope.js';
import {
	EVERYONE,
	type HistoryOptions,
	type HistoryPolicy,
	type StreamPosition
} from '../engine/engine.js';
import { historyPolicy, newEpoch } from '../engine/history.js';
import { isCluster, type RedisConnection } from './connections.js';
import { keySlot, type RoomKeys } from './keys.js';
import { envelope, envelopeBatch, envelopeHead, messageHead } from './channel-envelopes.js';
import { PUBLISH_SCRIPT, SHARDED_PUBLISH_SCRIPT, isNoScript, type LuaScript } from './scripts.js';
import { errorFrom } from '../engine/errors.js';
import { withDeadline } from '../engine/errors.js';

type Resolve = (position: StreamPosition | undefined) => void;
type Reject = (error: Error) => void;

/**
 * One publish waiting for its turn's flush: an object message that gets the room's next offset
 * (`head` is its JSON without the closing brace, `envelope` the envelope's text up to it), or a
 * message published as it is (`head` undefined, `envelope` its whole envelope).
 */
interface QueuedPublish {
	readonly head: string | undefined;
	readonly envelope: string;
	readonly resolve: Resolve;
	readonly reject: Reject;
}

// The settle functions of the promise `new Promise(capture)` just made. One shared executor
// instead of a closure per publish: closures made per publish were a measurable part of its cost.
let capturedResolve: Resolve;
let capturedReject: Reject;
function capture(resolve: Resolve, reject: Reject): void {
	capturedResolve = resolve;
	capturedReject = reject;
}

/** What a `PublishQueue` needs of its engine. */
export interface PublishQueueOptions {
	/** One Redis, or a Redis Cluster: then each node gets its own pipeline, and batches go out with SPUBLISH. */
	readonly redis: RedisConnection;
	readonly keys: (room: string) => RoomKeys;
	/** How much history each room keeps: every process publishing to a room must agree on it. */
	readonly history: HistoryOptions | undefined;
	/** Milliseconds a room's position lives after its last publish. */
	readonly retention: number;
	/** Milliseconds a flush may wait for Redis before its publishes fail. */
	readonly timeout: number;
	/** The error a publish to `room` rejects with when Redis failed it with `error`. */
	readonly failure: (room: string, error: unknown) => Error;
}

/**
 * Consecutive publishes to one room that go to Redis as one command: object messages as one run
 * of the publish script, the others as one PUBLISH.
 */
interface Run {
	readonly room: string;
	readonly keys: RoomKeys;
	/** The room's history policy, for a run of the publish script. */
	readonly policy: HistoryPolicy | undefined;
	readonly stamped: boolean;
	readonly publishes: QueuedPublish[];
	bytes: number;
	/** Its publishes were resolved or rejected: it is not sent again. */
	settled: boolean;
}

/**
 * The client refused a pipeline as a whole, before sending any of it: ioredis does so with a
 * cluster pipeline whose keys it cannot send to one node, or while the cluster cannot take commands.
 * Nothing of it ran, so its commands may be sent again.
 */
class RefusedPipeline extends Error {
	constructor(readonly reason: unknown) {
		super(reason instanceof Error ? reason.message : String(reason));
	}
}

/**
 * A run closes at this many messages or bytes (a message larger than that goes alone): one Lua
 * script blocks Redis while it runs, and one channel message must stay far below the pub/sub
 * output buffer limits of Redis (8 MB over 60 s by default), past which Redis drops subscribers.
 */
const RUN_MAX_MESSAGES = 128;
const RUN_MAX_BYTES = 128 * 1024;

/**
 * The publishes of one event-loop turn, sent to Redis together: consecutive publishes to a room
 * become one command (one script run for the messages that get offsets, one PUBLISH for the
 * others), and every command of the turn goes in one pipeline, so one write and one read carry
 * what took a round trip per publish. Each room's order is kept: its runs are sent in the order
 * their publishes came, and Redis runs a pipeline's commands in order. Runs of different rooms
 * share nothing but the pipeline, so each command still touches the keys of one room only, and a
 * pipeline refused whole is sent again room by room: one room's failure is never another's.
 */
export class PublishQueue {
	readonly #options: PublishQueueOptions;
	readonly #cluster: boolean;
	readonly #script: LuaScript;
	/**
	 * The nodes that know the publish script since the command connection last connected ('' for a
	 * single Redis).
	 */
	readonly #scriptLoaded = new Set<string>();
	/** The turn's runs, in the order they were opened. */
	#runs: Run[] = [];
	/** The run each room's next publish may join. */
	readonly #open = new Map<string, Run>();

	constructor(options: PublishQueueOptions) {
		this.#options = options;
		this.#cluster = isCluster(options.redis);
		this.#script = this.#cluster ? SHARDED_PUBLISH_SCRIPT : PUBLISH_SCRIPT;
	}

	/**
	 * Queues `message` for `room` (not for the connection `except`): an object message gets the
	 * room's next offset and is kept in its history; anything else, and every message to the room
	 * '*', goes as it is. Throws when the room's history policy is invalid. What `RedisEngine` and
	 * `RedisPublisher` both publish through, so their messages share one sequence per room.
	 */
	publish(
		room: string,
		message: unknown,
		except: string | undefined
	): Promise<StreamPosition | undefined> {
		const head = room != EVERYONE && isRecord(message) ? messageHead(message) : undefined;
		if (head === undefined) return this.add(room, undefined, envelope(message, except));
		return this.add(room, head, envelopeHead(except), historyPolicy(this.#options.history, room));
	}

	/**
	 * Queues a publish to `room` for this turn's flush and resolves with its position once Redis
	 * took it (see `QueuedPublish` for `head` and `envelope`; `policy` is the room's, needed when
	 * the message gets an offset).
	 */
	add(
		room: string,
		head: string | undefined,
		envelope: string,
		policy?: HistoryPolicy
	): Promise<StreamPosition | undefined> {
		const promise = new Promise(capture);
		const publish = { head, envelope, resolve: capturedResolve, reject: capturedReject };
		const stamped = head !== undefined;
		const bytes = envelope.length + (head?.length ?? 0);
		let run = this.#open.get(room);
		if (
			!run ||
			run.stamped != stamped ||
			run.publishes.length >= RUN_MAX_MESSAGES ||
			run.bytes + bytes > RUN_MAX_BYTES
		) {
			run = {
				room,
				keys: this.#options.keys(room),
				policy,
				stamped,
				publishes: [],
				bytes: 0,
				settled: false
			};
			this.#open.set(room, run);
			if (!this.#runs.length) process.nextTick(() => this.#flush());
			this.#runs.push(run);
		}
		run.publishes.push(publish);
		run.bytes += bytes;
		return promise;
	}

	#flush(): void {
		const runs = this.#runs;
		this.#runs = [];
		this.#open.clear();
		for (const [nodes, group] of this.#byNodes(runs)) void this.#publishGroup(nodes, group);
	}

	/**
	 * The runs grouped by the nodes that serve their room, as the cluster client groups slots (one
	 * group, '', for a single Redis): ioredis sends a cluster pipeline only when every slot in it has
	 * the same list of nodes, master and replicas (a slot moved by a MOVED reply is listed apart from
	 * the other slots of its master until the next slots refresh). A room's runs stay in one group,
	 * in their order.
	 */
	#byNodes(runs: Run[]): Map<string, Run[]> {
		const { redis } = this.#options;
		if (!isCluster(redis)) return new Map([['', runs]]);
		const groups = new Map<string, Run[]>();
		for (const run of runs) {
			const slot = keySlot(run.keys.position);
			// Slots not known yet (the client still discovers the cluster) go one pipeline each.
			const nodes = redis.slots[slot]?.join(';') || `slot ${slot}`;
			const group = groups.get(nodes);
			if (group) group.push(run);
			else groups.set(nodes, [run]);
		}
		return groups;
	}

	/**
	 * Sends one group's runs in one pipeline. When the client refused that pipeline whole (so none
	 * of it ran), the runs not settled yet go again, each room's in a pipeline of its own: a room
	 * whose commands the client cannot send (keys it would put in different slots) fails alone,
	 * and every other room of the group is published. Any other failure (a timeout: the commands
	 * may have run) fails the runs it left unsettled.
	 */
	async #publishGroup(nodes: string, runs: readonly Run[]): Promise<void> {
		let rooms: Run[][];
		try {
			return await this.#publishRuns(nodes, runs);
		} catch (error) {
			rooms = error instanceof RefusedPipeline ? this.#byRoom(runs) : [];
			if (rooms.length < 2) return this.#fail(runs, error);
		}
		await Promise.all(
			rooms.map((roomRuns) =>
				this.#publishRuns(nodes, roomRuns).catch((error: unknown) => this.#fail(roomRuns, error))
			)
		);
	}

	/** The runs not settled yet, grouped by room, each room's in their order. */
	#byRoom(runs: readonly Run[]): Run[][] {
		const rooms = new Map<string, Run[]>();
		for (const run of runs) {
			if (run.settled) continue;
			const room = rooms.get(run.room);
			if (room) room.push(run);
			else rooms.set(run.room, [run]);
		}
		return [...rooms.values()];
	}

	/** Fails the runs not settled yet with `error` (what the client refused with, if it did). */
	#fail(runs: readonly Run[], error: unknown): void {
		const reason = error instanceof RefusedPipeline ? error.reason : error;
		for (const run of runs) if (!run.settled) this.#settleRun(run, errorFrom(reason));
	}

	/**
	 * The command connection (re)connected, maybe to a Redis that never saw the publish script (a
	 * restart, a failover): the next flush loads it first.
	 */
	reconnected(): void {
		this.#scriptLoaded.clear();
	}

	/**
	 * Sends the runs in one pipeline and settles their publishes. The first pipeline on a connection
	 * starts with SCRIPT LOAD: were the script unknown, every run of the script would fail while the
	 * PUBLISHes between them went through, and sending those runs again would put their messages
	 * after the plain ones. A script Redis forgot all the same (SCRIPT FLUSH on a live connection)
	 * did not run: those runs are sent again, whole.
	 */
	async #publishRuns(node: string, runs: readonly Run[]): Promise<void> {
		const script = this.#script;
		const pipeline = this.#options.redis.pipeline();
		const loading = !this.#scriptLoaded.has(node) && runs.some((run) => run.stamped);
		if (loading) pipeline.script('LOAD', script.lua);
		for (const run of runs) {
			const { channel } = run.keys;
			if (run.stamped) pipeline.evalsha(script.sha, script.keys, ...this.#scriptArguments(run));
			else if (this.#cluster) pipeline.spublish(channel, this.#batchText(run));
			else pipeline.publish(channel, this.#batchText(run));
		}
		const replies = await this.#exec(pipeline);
		if (loading && !replies.shift()?.[0]) this.#scriptLoaded.add(node);
		const unknownScript: Run[] = [];
		runs.forEach((run, index) => {
			const [error, reply] = replies[index] ?? [new Error('Redis sent no reply')];
			if (run.stamped && isNoScript(error)) unknownScript.push(run);
			else this.#settleRun(run, error ?? reply);
		});
		if (unknownScript.length) await this.#publishScriptText(unknownScript);
	}

	async #publishScriptText(runs: readonly Run[]): Promise<void> {
		const pipeline = this.#options.redis.pipeline();
		for (const run of runs) {
			pipeline.eval(this.#script.lua, this.#script.keys, ...this.#scriptArguments(run));
		}
		const replies = await this.#exec(pipeline);
		runs.forEach((run, index) => {
			const [error, reply] = replies[index] ?? [new Error('Redis sent no reply')];
			this.#settleRun(run, error ?? reply);
		});
	}

	/**
	 * The replies of `pipeline`, bounded by `timeout`; throws a `RefusedPipeline` when the client
	 * refused it whole (ioredis rejects a pipeline only before sending it: once sent, each command
	 * has its own reply, error or not).
	 */
	async #exec(
		pipeline: ReturnType<RedisConnection['pipeline']>
	): Promise<[Error | null, unknown][]> {
		const execution = pipeline.exec().catch((error: unknown) => {
			throw new RefusedPipeline(error);
		});
		return ((await withDeadline(execution, this.#options.timeout, 'Redis')) ?? []) as [
			Error | null,
			unknown
		][];
	}

	/** Keys and arguments of the publish script for `run` (see `PUBLISH_SCRIPT`). */
	#scriptArguments(run: Run): (string | number)[] {
		const { retention } = this.#options;
		const { position, history, channel } = run.keys;
		const { size, ttl } = run.policy!;
		const args: (string | number)[] = [
			position,
			history,
			channel,
			newEpoch(),
			size,
			Math.ceil(ttl),
			retention
		];
		for (const { head, envelope } of run.publishes) args.push(head!, envelope);
		return args;
	}

	#batchText(run: Run): string {
		return envelopeBatch(run.publishes.map((publish) => publish.envelope));
	}

	/**
	 * Settles every publish of `run` from its command's outcome: the script's `[first offset, epoch]`
	 * gives each message its own offset; a PUBLISH's reply gives none; an error fails them all.
	 */
	#settleRun(run: Run, outcome: unknown): void {
		run.settled = true;
		if (outcome instanceof Error) {
			const error = this.#options.failure(run.room, outcome);
			for (const publish of run.publishes) publish.reject(error);
		} else if (!run.stamped) {
			for (const publish of run.publishes) publish.resolve(undefined);
		} else {
			const [first, epoch] = outcome as [number, string];
			run.publishes.forEach((publish, index) =>
				publish.resolve({ offset: Number(first) + index, epoch: String(epoch) })
			);
		}
	}
}
