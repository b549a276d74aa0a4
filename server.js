// Production entry: the SvelteKit app (adapter-node's handler) and its socket server on one port.
// `npm run build && npm start`; PORT (default 3000) and HOST (default 0.0.0.0) as for adapter-node.
import { createServer } from 'node:http';
import { sharedSocketServer } from 'runesocket/server';

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? '0.0.0.0';

// This server speaks plain HTTP. adapter-node assumes https unless told otherwise, which would make
// SvelteKit refuse every form POST as cross-site; a TLS proxy in front sets X-Forwarded-Proto itself.
if (!process.env.ORIGIN && !process.env.PROTOCOL_HEADER)
	process.env.PROTOCOL_HEADER = 'x-forwarded-proto';
const { handler } = await import('./build/handler.js');

const server = createServer((request, response) => {
	request.headers['x-forwarded-proto'] ??= 'http';
	handler(request, response);
});
// Importing the handler started SvelteKit, whose hooks created the shared socket server.
const sockets = sharedSocketServer();
if (!sockets) throw new Error('No shared socket server: does src/hooks.server.ts import it?');
sockets.attach(server);

server.listen(port, host, () => console.log(`Listening on http://${host}:${port}`));

async function shutDown() {
	await sockets.close();
	server.close(() => process.exit(0));
	server.closeAllConnections();
}

process.once('SIGTERM', shutDown);
process.once('SIGINT', shutDown);
