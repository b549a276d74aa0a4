import {
	createCompatClient,
	type ApiClientConfig,
	type WebSocketConfig
} from './create-web-socket.js';

/**
 * Options of `useWebSocket`: those of `createWebSocket`, and whether to connect at once.
 *
 * @example
 * ```ts
 * const options: UseWebSocketOptions = { accessToken: session.accessToken, immediate: false };
 * ```
 */
export interface UseWebSocketOptions extends WebSocketConfig {
	/** Connect as soon as the component is mounted. Default `true`; else on `connect()`. */
	immediate?: boolean;
}

/**
 * What `useWebSocket` returns: reactive `isConnected` and `lastMessage`, and the controls.
 *
 * @example
 * ```ts
 * const ws: UseWebSocketReturn = useWebSocket({ baseUrl: 'https://api.example.com' }, { accessToken });
 * $effect(() => console.log(ws.isConnected, ws.lastMessage));
 * ```
 */
export interface UseWebSocketReturn {
	readonly isConnected: boolean;
	/** The newest message, parsed from JSON; `undefined` until one arrives. */
	readonly lastMessage: unknown;
	/** Sends `data` as JSON; `true` when connected, `false` (nothing queued) otherwise. */
	send(data: unknown): boolean;
	/** Connects (again), after `immediate: false` or `disconnect()`. Does nothing on the server. */
	connect(): void;
	/** Closes the connection until the next `connect()`. */
	disconnect(): void;
}

/**
 * `createWebSocket` as runes, for a component: raw JSON in and out, the access token as the first
 * frame, the same reconnect defaults, and `isConnected` / `lastMessage` as reactive fields. It
 * connects when the component mounts (unless `immediate: false`) and closes for good when it is
 * destroyed; nothing connects on the server. Call it while a component initialises.
 *
 * @example
 * ```svelte
 * <script lang="ts">
 * 	import { useWebSocket } from 'runesocket/compat';
 * 	const ws = useWebSocket({ baseUrl: 'https://api.example.com' }, { accessToken });
 * </script>
 *
 * <p>{ws.isConnected ? 'Connected' : 'Reconnecting…'}</p>
 * <button onclick={() => ws.send({ type: 'ping' })}>Ping</button>
 * ```
 */
export function useWebSocket(
	config: ApiClientConfig,
	options: UseWebSocketOptions = {}
): UseWebSocketReturn {
	const { immediate = true, ...socketOptions } = options;
	const client = createCompatClient(config, socketOptions);
	let isConnected = $state(false);
	let lastMessage = $state.raw<unknown>();
	client.onStateChange((state) => (isConnected = state == 'connected'));
	client.onMessage((message) => (lastMessage = message.data));
	// An effect, not the component's script: effects run only in the browser, after mounting.
	$effect(() => {
		if (immediate) client.connect();
		return () => client.dispose();
	});
	return {
		get isConnected() {
			return isConnected;
		},
		get lastMessage() {
			return lastMessage;
		},
		send(data) {
			if (!client.isConnected) return false;
			client.send('message', data, { buffer: false });
			return true;
		},
		connect() {
			// A socket opened during SSR would outlive the request it was rendered for.
			if (typeof window != 'undefined') client.connect();
		},
		disconnect: () => client.disconnect()
	};
}
