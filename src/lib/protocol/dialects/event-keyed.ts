import { parseObjectFrame, type Dialect } from '../envelope.js';

/**
 * For servers that send events as `{event, data, timestamp}` (an ISO or numeric timestamp) and
 * control messages as `{type:'connected'|'pong'|'error', …}` (their `data` field, or else their other
 * fields, become the message data), with rooms as
 * `{type:'subscribe'|'unsubscribe', channel}` and a JSON `{type:'ping'}` heartbeat. Such servers
 * authenticate by session cookie, so no auth frame is sent.
 *
 * @example
 * ```ts
 * import { SocketClient, eventKeyedDialect } from 'runesocket';
 * const client = new SocketClient('wss://shop.example.com/ws', { protocol: eventKeyedDialect });
 * client.joinRoom('order_changes');
 * ```
 */
export const eventKeyedDialect: Dialect = {
	ping: '{"type":"ping"}',
	decode(frame) {
		const { event, data, timestamp, type, ...fields } = parseObjectFrame(frame);
		if (typeof event == 'string') {
			const at = typeof timestamp == 'string' ? Date.parse(timestamp) : timestamp;
			return { name: event, data, timestamp: Number.isFinite(at) ? (at as number) : undefined };
		}
		if (typeof type != 'string') throw new TypeError('Message with neither "event" nor "type"');
		return type == 'pong' ? null : { name: type, data: data ?? fields };
	},
	encode: ({ name, data, id }) => JSON.stringify({ event: name, data, id }),
	join: (channel) => JSON.stringify({ type: 'subscribe', channel }),
	leave: (channel) => JSON.stringify({ type: 'unsubscribe', channel })
};
