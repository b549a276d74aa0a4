import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { metricsRequestHandler } from '../../src/lib/server/index.js';
import { openSocket, upgradeRequestText } from '../kit/peers/upgrades.js';
import { startSocketServer } from '../kit/servers/socket-server.js';
import { within } from '../kit/wait.js';

// The library's own plain-text answers (the metrics endpoint's, an upgrade refusal's) say
// nosniff themselves, on a bare HTTP server that adds nothing: a browser that opens one reads text.

describe('the library’s plain answers', () => {
	it('metricsRequestHandler says nosniff on every answer: 200, 401, 405 and 404', async () => {
		const serve = (token: string | undefined) =>
			metricsRequestHandler({ metrics: () => 'up 1\n' }, { token });
		const http = createServer((request, response) => {
			const token = request.headers['x-test-token'] as string | undefined;
			if (!serve(token || undefined)(request, response)) response.writeHead(418).end();
		});
		await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
		const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`;
		try {
			const answers = [
				await fetch(base, { headers: { 'x-test-token': 's3', authorization: 'Bearer s3' } }),
				await fetch(base, { headers: { 'x-test-token': 's3' } }),
				await fetch(base, { method: 'POST', headers: { 'x-test-token': 's3' } }),
				await fetch(base)
			];
			expect(answers.map((answer) => answer.status)).toEqual([200, 401, 405, 404]);
			for (const answer of answers)
				expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
		} finally {
			http.closeAllConnections();
			await new Promise((resolve) => http.close(resolve));
		}
	});

	it('an upgrade refusal says nosniff', async () => {
		const server = await startSocketServer({ routes: [{ path: '/ws' }] });
		const socket = openSocket(server.port);
		let answer = '';
		socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
		const closed = new Promise((resolve) => socket.once('close', resolve));
		socket.write(upgradeRequestText(server.port, '/nowhere'));
		await within(closed, 'the refusal');
		expect(answer).toMatch(/^HTTP\/1\.1 404 Not Found\r\n/);
		expect(answer).toMatch(/\r\nX-Content-Type-Options: nosniff\r\n/);
	});
});
