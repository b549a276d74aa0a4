import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SocketServer } from '../../../src/lib/server/index.js';

/** What `serveInChild` needs: the process's name in its errors, and what it runs. */
export interface ChildServerOptions {
	/** Named in the line logged when the server cannot start. */
	readonly name: string;
	readonly sockets: SocketServer;
	/** Answers the HTTP requests the sockets do not take (the test's control endpoints). */
	readonly answer: RequestListener;
	/** The port to listen on; default `PORT` from the environment, else any free one. */
	readonly port?: number;
	/** Runs (and is awaited) first when the process is told to stop: a probe to end, a feed to stop. */
	readonly beforeStop?: () => void | Promise<void>;
}

/**
 * The end of every test server that runs in a child process: its sockets on an HTTP server on
 * 127.0.0.1, `Listening on <port>` on stdout once ready (what `tests/kit/servers/process.ts` waits
 * for), exit code 1 when it cannot start, and a clean stop (sockets closed, then the HTTP server)
 * on SIGTERM or SIGINT, once however often it is asked.
 */
export async function serveInChild({
	name,
	sockets,
	answer,
	port = Number(process.env.PORT ?? 0),
	beforeStop
}: ChildServerOptions): Promise<void> {
	const http = createServer(answer);
	sockets.attach(http);
	try {
		await sockets.ready();
		await new Promise<void>((resolve, reject) => {
			http.once('error', reject);
			http.listen(port, '127.0.0.1', resolve);
		});
	} catch (error) {
		console.error(`${name} could not start:`, error);
		process.exit(1);
	}
	console.log(`Listening on ${(http.address() as AddressInfo).port}`);

	let stopping = false;
	async function stop(): Promise<void> {
		if (stopping) return;
		stopping = true;
		await beforeStop?.();
		await sockets.close();
		http.closeAllConnections();
		await new Promise<void>((resolve) => http.close(() => resolve()));
		process.exit(0);
	}
	process.on('SIGTERM', () => void stop());
	process.on('SIGINT', () => void stop());
}
