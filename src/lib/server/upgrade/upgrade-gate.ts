import type { IncomingMessage, Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { DeadlineError, withDeadline } from '../../engine/errors.js';
import { CALLBACK_TIMEOUT_MS, logFailure } from '../callbacks.js';
import type { ServerMetrics, UpgradeRefusal } from '../metrics/metrics.js';
import { authResult, type AuthResult } from '../options.js';
import type { Route } from '../route.js';
import type { Transport } from '../transport/transport.js';
import { isOriginAllowed } from './origin.js';
import { refusalStatus, refuseUpgrade, UnclaimedUpgrades } from './upgrade.js';

/** An upgrade that passed every check, with what it brings to its connection. */
export interface AcceptedUpgrade {
	readonly route: Route;
	readonly transport: Transport;
	readonly request: IncomingMessage;
	readonly params: Record<string, string>;
	readonly authData: unknown;
	/** When `authenticate`'s answer expires (ms since the epoch), if it said so. */
	readonly expiresAt?: number;
}

/** What the gate needs to know of the server's connections, and where accepted upgrades go. */
export interface UpgradeGateOptions {
	readonly maxConnections: number;
	/** The open connections: with upgrades in progress and unclaimed ones, what `maxConnections` caps. */
	readonly connections: ReadonlySet<unknown>;
	accept(upgrade: AcceptedUpgrade): void;
}

/**
 * The way in, up to an open socket: the route, the origin, the connection cap and `authenticate`,
 * each refusal answered with an HTTP status and counted; the upgrade requests of other paths on a
 * shared HTTP server; and the HTTP servers it listens to.
 */
export class UpgradeGate {
	#routes: readonly Route[];
	#metrics: ServerMetrics;
	#options: UpgradeGateOptions;
	#upgrading = 0;
	#unclaimed = new UnclaimedUpgrades();
	#listeners = new Map<
		HttpServer,
		(request: IncomingMessage, socket: Duplex, head: Buffer) => void
	>();
	#closing = false;

	constructor(routes: readonly Route[], metrics: ServerMetrics, options: UpgradeGateOptions) {
		this.#routes = routes;
		this.#metrics = metrics;
		this.#options = options;
	}

	/** Whether an upgrade request is for one of the routes. */
	matches(request: IncomingMessage): boolean {
		return this.#routes.some((route) => route.pattern.test(request.url ?? ''));
	}

	/** Listens to `httpServer`'s upgrade requests (see `SocketServer.attach`). */
	attach(httpServer: HttpServer): void {
		if (this.#listeners.has(httpServer)) return;
		const listener = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
			if (this.matches(request)) void this.handle(request, socket, head);
			else this.handleUnrouted(socket, httpServer.listenerCount('upgrade') == 1);
		};
		this.#listeners.set(httpServer, listener);
		httpServer.on('upgrade', listener);
	}

	/** Takes over one upgrade request (see `SocketServer.handleUpgrade`). Never rejects. */
	async handle(request: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
		// A client that resets mid-handshake must not crash the process with an unhandled 'error'.
		const ignore = () => {};
		socket.on('error', ignore);
		try {
			await this.#upgrade(request, socket, head, () => socket.off('error', ignore));
		} catch (error) {
			logFailure(error);
			this.#refuse(socket, 500, 'error');
		}
	}

	/** An upgrade request no route serves (see `SocketServer.handleUnroutedUpgrade`). */
	handleUnrouted(socket: Duplex, alone: boolean): void {
		this.#unclaimed.watch(socket, alone || this.#atCapacity());
	}

	/** From now on every upgrade is refused with 503: the server is shutting down. */
	refuseAll(): void {
		this.#closing = true;
	}

	/** Stops listening to the HTTP servers, and the routes' transport servers stop accepting. */
	detach(): void {
		for (const route of this.#routes) route.transports.close();
		for (const [httpServer, listener] of this.#listeners) httpServer.off('upgrade', listener);
		this.#listeners.clear();
	}

	async #upgrade(
		request: IncomingMessage,
		socket: Duplex,
		head: Buffer,
		handedOver: () => void
	): Promise<void> {
		const url = request.url ?? '';
		const route = this.#routes.find((candidate) => candidate.pattern.test(url));
		if (!route) return this.#refuse(socket, 404, 'not_found');
		let params: Record<string, string>;
		try {
			params = route.pattern.match(url) ?? {};
		} catch {
			return this.#refuse(socket, 400, 'malformed_path', 'Malformed path');
		}
		if (this.#closing) return this.#refuse(socket, 503, 'shutting_down', 'Server shutting down');
		if (!this.#originAllowed(route, request)) {
			return this.#refuse(socket, 403, 'origin', 'Origin not allowed');
		}
		if (this.#atCapacity()) return this.#refuse(socket, 503, 'capacity', 'Too many connections');
		this.#upgrading++;
		try {
			let authData: unknown;
			let expiresAt: number | undefined;
			if (route.options.authenticate) {
				const result = await this.#authenticate(route, request);
				if (!result.success) {
					const status = refusalStatus(result.code);
					this.#metrics.authRefused(status);
					return refuseUpgrade(socket, status, result.reason);
				}
				authData = result.data;
				expiresAt = result.expiresAt;
			}
			if (socket.destroyed || this.#closing) return void socket.destroy();
			route.transports.upgrade(request, socket, head, (transport) => {
				handedOver();
				this.#options.accept({ route, transport, request, params, authData, expiresAt });
			});
		} finally {
			this.#upgrading--;
		}
	}

	/** Refuses an upgrade before authentication, counted by `why`. */
	#refuse(socket: Duplex, status: number, why: UpgradeRefusal, reason?: string): void {
		this.#metrics.upgradeRefused(why);
		refuseUpgrade(socket, status, reason);
	}

	#atCapacity(): boolean {
		const open = this.#options.connections.size + this.#upgrading + this.#unclaimed.size;
		return open >= this.#options.maxConnections;
	}

	#originAllowed(route: Route, request: IncomingMessage): boolean {
		try {
			return isOriginAllowed(request, route.options.origins ?? 'same-host');
		} catch (error) {
			logFailure(error);
			return false;
		}
	}

	/** `authenticate`'s answer: one that throws is a 500, one that hangs past 5 s a 503. */
	async #authenticate(route: Route, request: IncomingMessage): Promise<AuthResult<unknown>> {
		try {
			const answer = await withDeadline(
				() => route.options.authenticate!(request),
				CALLBACK_TIMEOUT_MS,
				'authenticate'
			);
			return authResult(answer);
		} catch (error) {
			logFailure(error);
			return error instanceof DeadlineError
				? { success: false, code: 503, reason: 'Authentication took too long' }
				: { success: false, code: 500, reason: 'Authentication failed' };
		}
	}
}
