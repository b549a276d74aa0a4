// A raw test server's side of a request: find it among the client's frames, answer or refuse it.
import type { ServerPeer } from '../servers/ws-server.js';

/** A request as the server received it. */
export interface ReceivedRequest {
	name: string;
	data: unknown;
	id: number;
	key?: string;
}

/**
 * The `n`-th (from 0) request named `name` that `peer` received, waiting for it.
 *
 * @example
 * ```ts
 * const { id } = await receivedRequest(peer, 'incident.ack');
 * answer(peer, id, { ok: true });
 * ```
 */
export async function receivedRequest(
	peer: ServerPeer,
	name: string,
	n = 0
): Promise<ReceivedRequest> {
	const requests = () =>
		peer.messages.filter(
			(message): message is ReceivedRequest =>
				typeof message == 'object' &&
				(message as ReceivedRequest).name == name &&
				typeof (message as ReceivedRequest).id == 'number'
		);
	await peer.waitForFrame(() => requests().length > n, `request #${n} named "${name}"`);
	return requests()[n];
}

/** Answers request `id` with `data`. */
export function answer(peer: ServerPeer, id: number, data: unknown = null): void {
	peer.send({ name: 'reply', data, id });
}

/** Refuses request `id` with the server error `code` and `message`. */
export function refuse(peer: ServerPeer, id: number, code: string, message: string): void {
	peer.send({ name: 'error', data: { code, message }, id });
}
