import { createRequire } from 'node:module';
import type * as Ws from 'ws';

/**
 * `ws` as Node loads it. Runes tests resolve with the `browser` condition (Svelte's effects need
 * its browser build), which gives `ws`'s browser stub instead; these tests mock `ws` with this:
 * `vi.mock('ws', () => import('./node-ws.js'))`.
 */
const ws = createRequire(import.meta.url)('ws') as typeof Ws & typeof Ws.WebSocket;

export default ws;
export const { WebSocket, WebSocketServer } = ws;
