import { isRecord, parseObjectFrame, type Dialect } from '../envelope.js';

/**
 * For servers that key messages by `type` with the fields beside it (`{type:'alert', severity, …}`):
 * the first frame is the bare token, rooms are `{type:'subscribe'|'unsubscribe', channel}`, the
 * heartbeat is `{type:'ping'}` answered by `{type:'pong'}`, and a server's `{type:'heartbeat'}`
 * counts as liveness. A message's data is the object without its `type`.
 *
 * @example
 * ```ts
 * import { SocketClient, typeKeyedDialect } from 'runesocket';
 * const client = new SocketClient('wss://api.example.com/ws', {
 * 	protocol: typeKeyedDialect,
 * 	auth: () => session.accessToken
 * });
 * ```
 */
export const typeKeyedDialect: Dialect = {
	ping: '{"type":"ping"}',
	decode(frame) {
		const { type, ...fields } = parseObjectFrame(frame);
		if (typeof type != 'string') throw new TypeError('Message without a string "type"');
		const id = typeof fields.id == 'number' ? fields.id : undefined;
		return type == 'pong' ? null : { name: type, data: fields, id };
	},
	encode: ({ name, data, id }) =>
		JSON.stringify({ ...(isRecord(data) ? data : { data }), type: name, id }),
	auth: (token) => token,
	join: (channel) => JSON.stringify({ type: 'subscribe', channel }),
	leave: (channel) => JSON.stringify({ type: 'unsubscribe', channel })
};
