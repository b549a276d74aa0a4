// Route numbers the server refuses at start.
import { describe, expect, it } from 'vitest';
import { createSocketServer, type RouteOptions } from '../../src/lib/server/index.js';

describe('route numbers', () => {
	it('refuses, with a TypeError naming it, a number a route cannot use: NaN, negative, or a wait past what a timer can', () => {
		const refused: [Partial<RouteOptions>, RegExp][] = [
			// A heartbeat of Infinity was a liveness check every millisecond: every client dropped.
			[{ heartbeat: Infinity }, /heartbeat must be 0 to 2147483647 ms, not Infinity/],
			[{ serverHeartbeat: 2 ** 31 }, /serverHeartbeat must be 0 to 2147483647 ms/],
			[
				{ firstMessageAuth: { verify: () => ({ success: true, data: {} }), timeout: Number.NaN } },
				/firstMessageAuth.timeout must be 0 to 2147483647 ms, not NaN/
			],
			[{ maxBufferedBytes: -1 }, /maxBufferedBytes must be a number from 0 up, not -1/],
			[{ rateLimit: { burst: Number.NaN } }, /rateLimit.burst must be a number from 0 up/],
			[{ maxPayload: '64' as unknown as number }, /maxPayload must be a number from 0 up, not 64/]
		];
		for (const [options, message] of refused) {
			const route = { path: '/ws', origins: 'any', ...options } as RouteOptions;
			expect(() => createSocketServer({ routes: [route] }), message.source).toThrow(TypeError);
			expect(() => createSocketServer({ routes: [route] })).toThrow(message);
		}
		const unbounded = { path: '/ws', maxRoomsPerConnection: Infinity } as RouteOptions;
		expect(() => createSocketServer({ routes: [unbounded] })).not.toThrow();
	});
});
