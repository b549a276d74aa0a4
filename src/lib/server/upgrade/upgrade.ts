import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/**
 * How long the HTTP server's other upgrade listeners (Vite's HMR, a proxy) have to take an upgrade
 * no route of ours serves before it is answered 404: left alone, it would keep its socket forever.
 */
export const UNCLAIMED_UPGRADE_MS = 3_000;

/**
 * Writes a bare HTTP error response on a socket that asked to upgrade, then closes it.
 */
export function refuseUpgrade(socket: Duplex, status: number, reason?: unknown): void {
	const text = STATUS_CODES[status] ?? '';
	const body = typeof reason == 'string' ? reason : text;
	if (socket.writable) {
		// nosniff: the reason may echo what the client sent, and must never be read as HTML or script.
		socket.write(
			`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\n` +
				`Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n` +
				`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
		);
	}
	socket.destroy();
}

/**
 * The HTTP status of an upgrade-time refusal: the app's own 4xx/5xx, else 401.
 */
export function refusalStatus(code: number | undefined): number {
	return code !== undefined && Number.isInteger(code) && code >= 400 && code <= 599 ? code : 401;
}

/** Whether something answered the upgrade (a 101 or an error) or dropped it. */
function isClaimed(socket: Duplex): boolean {
	const written = (socket as Partial<Socket>).bytesWritten;
	return socket.destroyed || written === undefined || written > 0;
}

/** A socket error nobody else listens to would crash the process; this one is the peer's business. */
function ignore(): void {}

/**
 * Upgrade requests for paths no route serves. When the socket server is the HTTP server's only
 * upgrade listener they are answered 404 at once; otherwise the other listeners get 3 s to take
 * them. Meanwhile they count towards `maxConnections` (`size`): unanswered upgrades must not be a way
 * around the cap on open sockets.
 */
export class UnclaimedUpgrades {
	#waiting = new Set<Duplex>();

	/** Sockets waiting for another listener to take them. */
	get size(): number {
		return this.#waiting.size;
	}

	/** Watches one unrouted upgrade; `alone` when no other listener could take it. */
	watch(socket: Duplex, alone: boolean): void {
		if (isClaimed(socket)) return;
		if (alone) return refuseUpgrade(socket, 404);
		socket.on('error', ignore);
		this.#waiting.add(socket);
		const timer = setTimeout(() => {
			this.#waiting.delete(socket);
			if (!isClaimed(socket)) refuseUpgrade(socket, 404);
		}, UNCLAIMED_UPGRADE_MS);
		timer.unref();
		socket.once('close', () => {
			clearTimeout(timer);
			this.#waiting.delete(socket);
		});
		// Listeners that take sockets synchronously (Vite's HMR, ws) have done so by the next turn.
		setImmediate(() => {
			if (isClaimed(socket)) this.#waiting.delete(socket);
		});
	}
}
