import { authFrame } from './auth-users.js';
import { connectRaw, type WsPeer } from './peers/ws-peer.js';

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
