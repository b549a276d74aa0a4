import { authFrame } from './auth-users.js';
import { connectRaw, type WsPeer } from './peers/ws-peer.js';
import { until } from './wait.js';

// Raw tabs of `id:name` users on the user-revocation tests' servers.

/** A tab of user `token` (`id:name`) on the route at `url`, greeted (`connected`) unless told not. */
export async function userTab(url: string, token: string, greeted = true): Promise<WsPeer> {
	const peer = await connectRaw(url);
	peer.send(authFrame(token));
	if (greeted) await peer.nextMessage('connected');
	return peer;
}

/** Resolves once a ping of `peer` was answered; throws unless its socket is still open. */
export async function stillOpen(peer: WsPeer): Promise<void> {
	await peer.roundTrip();
	if (peer.socket.readyState != peer.socket.OPEN) throw new Error('the tab closed');
}

/**
 * A tab of `token` on `url` once one is admitted: tries again every 50 ms while they are closed
 * (e.g. 4005 until a slot given back elsewhere reached the engine), for at most `ms`.
 */
export async function admittedTab(url: string, token: string, ms = 5_000): Promise<WsPeer> {
	let admitted: WsPeer | undefined;
	await until(
		async () => {
			const peer = await userTab(url, token, false);
			const first = await Promise.race([peer.nextMessage('connected', ms), peer.closed]);
			if ('code' in first) return false;
			admitted = peer;
			return true;
		},
		`a tab of ${token} to be admitted`,
		{ ms, everyMs: 50 }
	);
	return admitted!;
}
