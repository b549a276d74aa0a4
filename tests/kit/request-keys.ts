import type {
	EngineRequestKeys,
	RequestKeyLimits,
	RequestKeyState
} from '../../src/lib/engine/engine.js';
import { MemoryRequestKeys } from '../../src/lib/engine/memory-request-keys.js';
import type { RouteOptions } from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import { connectRaw, type WsPeer } from './peers/ws-peer.js';
import type { Envelope } from './envelope.js';
import { StubEngine } from './engine-stub.js';
import { startSocketServer, type RunningServer } from './servers/socket-server.js';
import { until } from './wait.js';

// Exactly-once requests as a raw client writes them: `{"name","data","key","id"}`, answered by id.

/** A request whose handler counts its runs (the side effects a repeat must not make twice). */
export const Apply = ClientMessage.define<string>('apply');

/**
 * A route that knows its user by the `x-user` header (none: an anonymous connection), with the
 * route's other options as given.
 */
export function userRoute(options: Partial<RouteOptions> = {}): RouteOptions {
	return {
		path: '/ws',
		origins: 'any',
		authenticate: (request) => {
			const user = request.headers['x-user'];
			return { success: true, data: typeof user == 'string' ? { id: user } : {} };
		},
		...options
	};
}

/** Starts a server with `route`, on `engine` (default the server's own). */
export function serveKeys(
	route: Partial<RouteOptions> = {},
	engine?: StubEngine
): Promise<RunningServer> {
	return startSocketServer({ routes: [userRoute(route)], engine });
}

/** A raw connection of `user` (none: anonymous), once greeted. */
export async function connectAs(server: RunningServer, user?: string): Promise<WsPeer> {
	const peer = await connectRaw(server.url(), user === undefined ? {} : { 'x-user': user });
	await peer.nextMessage('connected');
	return peer;
}

/** Sends `apply` with `data`, under `key` and `id`. */
export function sendKeyed(peer: WsPeer, key: unknown, id: number, data = 'x'): void {
	peer.send({ name: 'apply', data, key, id });
}

/** Every answer (`reply` or `error`) `peer` got to request `id`. */
export function answersOf(peer: WsPeer, id: number): Envelope[] {
	return peer.messages.filter(
		(message) => message.id === id && (message.name == 'reply' || message.name == 'error')
	);
}

/** The answer to request `id`, once it came. */
export async function answerOf(peer: WsPeer, id: number): Promise<Envelope> {
	await until(() => answersOf(peer, id).length > 0, `the answer to request ${id}`);
	return answersOf(peer, id)[0];
}

/** The `[name, data]` of an answer, which is what a repeat must get again. */
export function shape(answer: Envelope): [string, unknown] {
	return [answer.name, answer.data];
}

/** A request-key store whose calls a test can make fail or hang, one method at a time. */
export class FaultyRequestKeys implements EngineRequestKeys {
	readonly #keys = new MemoryRequestKeys();
	/** What `claim` does instead of its work, while set (throw, reject, or hang). */
	claimInstead: (() => RequestKeyState | Promise<RequestKeyState>) | undefined;
	/** What `settle` does instead of its work, while set. */
	settleInstead: (() => void | Promise<void>) | undefined;
	readonly released: string[] = [];

	claim(
		scope: string,
		key: string,
		limits: RequestKeyLimits
	): RequestKeyState | Promise<RequestKeyState> {
		return this.claimInstead ? this.claimInstead() : this.#keys.claim(scope, key, limits);
	}

	settle(
		scope: string,
		key: string,
		answer: string,
		limits: RequestKeyLimits
	): void | Promise<void> {
		if (this.settleInstead) return this.settleInstead();
		this.#keys.settle(scope, key, answer, limits);
	}

	release(scope: string, key: string): void {
		this.released.push(key);
		this.#keys.release(scope, key);
	}
}

/** An app's engine whose request keys are `keys`. */
export class EngineWithKeys extends StubEngine {
	readonly requestKeys: EngineRequestKeys;

	constructor(keys: EngineRequestKeys) {
		super();
		this.requestKeys = keys;
	}
}
