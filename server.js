// Production entry: the SvelteKit app (adapter-node's handler) and its socket server on one port.
// `npm run build && npm start`; PORT (default 3000) and HOST (default 0.0.0.0) as for adapter-node.
// METRICS_TOKEN, when set, serves the socket server's Prometheus metrics at GET /metrics to requests
// with `Authorization: Bearer <METRICS_TOKEN>`; without it /metrics answers 404.
import { createServer } from 'node:http';
import { metricsRequestHandler, sharedSocketServer } from 'runesocket/server';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';

// This server speaks plain HTTP. adapter-node assumes https unless told otherwise, which would make
// SvelteKit refuse every form POST as cross-site; a TLS proxy in front sets X-Forwarded-Proto itself.
if (!process.env.ORIGIN && !process.env.PROTOCOL_HEADER)
	process.env.PROTOCOL_HEADER = 'x-forwarded-proto';

let handler;
try {
	({ handler } = await import('./build/handler.js'));
} catch (error) {
	// SvelteKit's start-up (e.g. a production server without its session secret) says what is wrong.
	console.error(error instanceof Error ? error.message : error);
	process.exit(1);
}

// Importing the handler started SvelteKit, whose hooks created the shared socket server.
const sockets = sharedSocketServer();
if (!sockets) throw new Error('No shared socket server: does src/hooks.server.ts import it?');
const serveMetrics = metricsRequestHandler(sockets, { token: process.env.METRICS_TOKEN });

// What every response carries, whoever answers it. Pages get these and their own CSP from
// src/security-headers.ts, but static files (the island's JS, CSS, favicons), SvelteKit's own
// refusals (the cross-site 403) and /metrics never pass through that hook. Set before the handler
// runs, so a response that names one of these itself (a page's CSP) keeps its own.
const BASELINE_HEADERS = {
	'X-Content-Type-Options': 'nosniff',
	'X-Frame-Options': 'DENY',
	'Referrer-Policy': 'same-origin',
	// Nothing but a page needs to load or run anything: an SVG opened on its own runs no script.
	'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'"
};

const server = createServer((request, response) => {
	for (const [name, value] of Object.entries(BASELINE_HEADERS)) response.setHeader(name, value);
	if (serveMetrics(request, response)) return;
	request.headers['x-forwarded-proto'] ??= 'http';
	handler(request, response);
});
// A client that sends its request slowly holds a connection, a socket and memory: Node's defaults
// wait a minute for the headers and five for the body. The demo's requests are small forms.
// Upgraded WebSockets are no longer requests, so neither limit applies to them.
server.headersTimeout = 10_000;
server.requestTimeout = 30_000;

sockets.attach(server);

server.listen(port, host, () => console.log(`Listening on ${browsableUrl(server.address())}`));

/** Where a browser on this machine reaches the server: "all interfaces" is not an address to open. */
function browsableUrl(address) {
	if (typeof address == 'string') return address;
	const anyInterface = ['0.0.0.0', '::', ''].includes(address.address);
	const name = anyInterface
		? 'localhost'
		: address.family == 'IPv6'
			? `[${address.address}]`
			: address.address;
	return `http://${name}:${address.port}`;
}

async function shutDown() {
	await sockets.close();
	server.close(() => process.exit(0));
	server.closeAllConnections();
}

process.once('SIGTERM', shutDown);
process.once('SIGINT', shutDown);
