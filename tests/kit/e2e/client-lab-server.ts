/**
 * The e2e lab: serves a page that runs the real `SocketClient` (bundled from src/ with esbuild) in
 * Chromium, and a `ws` server that page connects to, which counts connections per lab page.
 *
 * Usage (playwright.config.ts's webServer): npx tsx tests/kit/e2e/client-lab-server.ts <port>
 */
import { createServer, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { WebSocketServer } from 'ws';
import type { LabStats } from './lab.js';

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0) {
	console.error('usage: client-lab-server.ts <port>');
	process.exit(2);
}

// Built once: every test page loads the same bundle of the library's public entry point.
const bundle = await build({
	entryPoints: [fileURLToPath(new URL('../../../src/lib/index.ts', import.meta.url))],
	bundle: true,
	format: 'esm',
	target: 'es2022',
	write: false,
	logLevel: 'warning'
});
const clientJs = bundle.outputFiles[0].text;

// The backoff is huge on purpose: a fast reconnect can then only come from the `online` event.
// Numeric options may be overridden by query parameters; `connect=0` leaves connecting to the test.
const page = `<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>runesocket client lab</title>
<link rel="icon" href="data:,">
</head>
<body data-state="none">
<script type="module">
import { SocketClient, Connected, Disconnected, ReconnectAttempt } from '/client.js';

const query = new URLSearchParams(location.search);
const options = { reconnectDelay: 60_000, maxReconnectDelay: 60_000, heartbeatInterval: 0 };
for (const key of ['reconnectDelay', 'maxReconnectDelay', 'heartbeatInterval', 'connectionTimeout']) {
	if (query.has(key)) options[key] = Number(query.get(key));
}
const url = 'ws://' + location.host + '/ws?lab=' + encodeURIComponent(query.get('lab') ?? '');
const client = new SocketClient(url, options);
const events = [];
const record = (type, detail) => events.push({ type, ...detail, at: performance.now() });

// Registered before connect(), so each network event is recorded before the client reacts to it.
for (const type of ['online', 'offline']) {
	addEventListener(type, () => record(type, { onLine: navigator.onLine }));
}
client.onStateChange((state) => {
	record('state', { state });
	document.body.dataset.state = state;
});
client.on(Connected, (payload) => record('Connected', payload));
client.on(Disconnected, (payload) => record('Disconnected', payload));
client.on(ReconnectAttempt, (payload) => record('ReconnectAttempt', payload));
client.onError((error) => record('error', { kind: error.kind, message: error.message }));

window.lab = { client, events };
document.body.dataset.state = client.connectionState;
if (query.get('connect') !== '0') client.connect();
</script>
</body>
</html>
`;

interface LabCounters {
	opened: number;
	open: number;
	closes: { code: number; reason: string }[];
}

/** Per lab id, so tests never see each other's connections (the server outlives a single run). */
const labs = new Map<string, LabCounters>();
const countersOf = (lab: string): LabCounters => {
	let counters = labs.get(lab);
	if (!counters) labs.set(lab, (counters = { opened: 0, open: 0, closes: [] }));
	return counters;
};

function reply(response: ServerResponse, status: number, type: string, body: string): void {
	response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
	response.end(body);
}

const server = createServer((request, response) => {
	const url = new URL(request.url ?? '/', 'http://lab');
	if (request.method != 'GET') return reply(response, 405, 'text/plain', 'method not allowed');
	switch (url.pathname) {
		case '/health':
			return reply(response, 200, 'text/plain', 'ok');
		case '/client.js':
			return reply(response, 200, 'text/javascript; charset=utf-8', clientJs);
		case '/':
			return reply(response, 200, 'text/html; charset=utf-8', page);
		case '/stats': {
			const stats: LabStats = countersOf(url.searchParams.get('lab') ?? '');
			return reply(response, 200, 'application/json', JSON.stringify(stats));
		}
		default:
			return reply(response, 404, 'text/plain', 'not found');
	}
});

const wss = new WebSocketServer({ noServer: true });

server.on('upgrade', (request, socket, head) => {
	const url = new URL(request.url ?? '/', 'http://lab');
	if (url.pathname != '/ws') return void socket.destroy();
	wss.handleUpgrade(request, socket, head, (ws) => {
		const counters = countersOf(url.searchParams.get('lab') ?? '');
		counters.opened++;
		counters.open++;
		ws.on('message', (data, isBinary) => {
			// runesocket's heartbeat: "2" is a ping, "3" the pong.
			if (!isBinary && data.toString() == '2') ws.send('3');
		});
		ws.on('close', (code, reason) => {
			counters.open--;
			counters.closes.push({ code, reason: reason.toString() });
		});
	});
});

server.listen(port, '127.0.0.1', () => {
	console.log(`client lab on http://127.0.0.1:${port}`);
});

// Open sockets would keep server.close() waiting: exit at once when Playwright stops us.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.on(signal, () => {
		for (const client of wss.clients) client.terminate();
		server.close();
		process.exit(0);
	});
}
