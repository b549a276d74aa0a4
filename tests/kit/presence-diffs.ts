import type { OutgoingHttpHeaders } from 'node:http';
import { connectRaw, type WsPeer } from './peers/ws-peer.js';

/** A `presence.diff`'s data, as a raw client reads it. */
export interface PresenceDiff {
	readonly set: [string, { connections: number }][];
	readonly removed: string[];
}

/**
 * A raw client of `token` (`id:name`, first-message auth) at `url`, in `room`, its
 * `presence.state` received.
 */
export async function presentMember(
	url: string,
	token: string,
	room: string,
	headers: OutgoingHttpHeaders = {}
): Promise<WsPeer> {
	const raw = await connectRaw(url, headers);
	raw.send({ name: 'auth', data: { token } });
	await raw.nextMessage('connected');
	raw.send({ name: 'room.join', data: { room } });
	await raw.nextMessage('presence.state');
	return raw;
}

/** Every `presence.diff` `raw` received, oldest first. */
export function diffsOf(raw: WsPeer): PresenceDiff[] {
	return raw.messages
		.filter((message) => message.name == 'presence.diff')
		.map(({ data }) => data as PresenceDiff);
}

/** Whether `raw` was told `user` left, in any diff from the `from`-th on. */
export function sawLeave(raw: WsPeer, user: string, from = 0): boolean {
	return diffsOf(raw)
		.slice(from)
		.some((diff) => diff.removed.includes(user));
}

/** The count `raw` was last told for `user`, from the `from`-th diff on (0: left; undefined: no word). */
export function lastCount(raw: WsPeer, user: string, from = 0): number | undefined {
	let count: number | undefined;
	for (const diff of diffsOf(raw).slice(from)) {
		for (const [id, entry] of diff.set) if (id == user) count = entry.connections;
		if (diff.removed.includes(user)) count = 0;
	}
	return count;
}
