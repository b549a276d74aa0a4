import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
	createSocketServer,
	MemoryEngine,
	metricsRequestHandler,
	type SocketServer
} from '../../src/lib/server/index.js';
import { ClientMessage } from '../../src/lib/index.js';
import { PROMETHEUS_CONTENT_TYPE } from '../../src/lib/server/metrics/prometheus-text.js';
import { connectRaw, refusedUpgrade, type WsPeer } from '../kit/peers/ws-peer.js';
import { Opcode, RawClient } from '../kit/peers/raw-frames.js';
import { until, within } from '../kit/wait.js';

// ---------------------------------------------------------------------------------------------
// A small parser for the text exposition format 0.0.4: it fails on any line the format does not
// allow, so the scrape checks the format as well as the values.
// ---------------------------------------------------------------------------------------------

interface Exposition {
	/** Family name → its TYPE. */
	readonly types: Map<string, string>;
	/** `name{label="value",…}` (labels sorted, unescaped) → value. */
	readonly samples: Map<string, number>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const HISTOGRAM_SUFFIXES = ['_bucket', '_sum', '_count'];

function parseValue(text: string): number {
	if (text == '+Inf') return Infinity;
	if (text == '-Inf') return -Infinity;
	if (text == 'NaN') return NaN;
	if (!/^-?\d+(\.\d+)?(e[+-]?\d+)?$/i.test(text)) throw new Error(`Bad value "${text}"`);
	return Number(text);
}

/** Reads `{a="x",b="y"}` from `text` at `start`; returns the labels and where they end. */
function parseLabels(text: string, start: number): { labels: [string, string][]; end: number } {
	const labels: [string, string][] = [];
	let index = start + 1;
	while (text[index] != '}') {
		const equals = text.indexOf('=', index);
		const name = text.slice(index, equals);
		if (!NAME.test(name) || text[equals + 1] != '"') throw new Error(`Bad label in ${text}`);
		let value = '';
		index = equals + 2;
		for (; text[index] != '"'; index++) {
			if (index >= text.length) throw new Error(`Unterminated label value in ${text}`);
			if (text[index] != '\\') {
				value += text[index];
				continue;
			}
			const escaped = text[++index];
			if (escaped == 'n') value += '\n';
			else if (escaped == '\\' || escaped == '"') value += escaped;
			else throw new Error(`Bad escape \\${escaped} in ${text}`);
		}
		labels.push([name, value]);
		index++;
		if (text[index] == ',') index++;
		else if (text[index] != '}') throw new Error(`Expected , or } in ${text}`);
	}
	return { labels, end: index + 1 };
}

function sampleKey(name: string, labels: [string, string][]): string {
	if (!labels.length) return name;
	const sorted = [...labels].sort(([a], [b]) => a.localeCompare(b));
	return `${name}{${sorted.map(([label, value]) => `${label}="${value}"`).join(',')}}`;
}

function parseExposition(text: string): Exposition {
	expect(text.endsWith('\n')).toBe(true);
	const types = new Map<string, string>();
	const samples = new Map<string, number>();
	let family: string | undefined;
	for (const line of text.slice(0, -1).split('\n')) {
		const comment = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
		if (comment) {
			const [, kind, name, rest] = comment;
			expect(name).toMatch(NAME);
			if (kind == 'HELP') family = name;
			else {
				expect(name).toBe(family); // HELP then TYPE, once per family
				expect(['counter', 'gauge', 'histogram']).toContain(rest);
				expect(types.has(name)).toBe(false);
				types.set(name, rest);
			}
			continue;
		}
		const nameEnd = line.search(/[{ ]/);
		const name = line.slice(0, nameEnd);
		let labels: [string, string][] = [];
		let rest = nameEnd;
		if (line[nameEnd] == '{') ({ labels, end: rest } = parseLabels(line, nameEnd));
		expect(line[rest]).toBe(' ');
		const owner = types.get(family ?? '');
		const allowed =
			owner == 'histogram' ? HISTOGRAM_SUFFIXES.map((suffix) => family + suffix) : [family];
		expect(allowed, `sample ${name} outside its family`).toContain(name);
		const key = sampleKey(name, labels);
		expect(samples.has(key), `duplicate sample ${key}`).toBe(false);
		samples.set(key, parseValue(line.slice(rest + 1)));
	}
	return { types, samples };
}

// ---------------------------------------------------------------------------------------------
// A socket server and its HTTP server wired as server.js wires them.
// ---------------------------------------------------------------------------------------------

const TOKEN = randomBytes(16).toString('hex');
const Tick = ClientMessage.define<{ seq: number; blob?: string }>('tick');

interface Running {
	readonly sockets: SocketServer;
	readonly http: Server;
	readonly port: number;
	url(path: string): string;
}

const running: Running[] = [];
afterEach(async () => {
	for (const { sockets, http } of running.splice(0)) {
		await sockets.close();
		http.closeAllConnections();
		await new Promise<void>((resolve) => http.close(() => resolve()));
	}
});

async function start(): Promise<Running> {
	const sockets = createSocketServer({
		routes: [
			{ path: '/ws', origins: 'any', maxBufferedBytes: 32 * 1024 },
			{
				path: '/limited',
				origins: 'any',
				rateLimit: { messagesPerSecond: 1, burst: 2, closeAfter: 1_000 }
			},
			{
				path: '/auth',
				origins: 'any',
				authenticate: (request) =>
					request.headers['x-user'] ? { success: true, data: {} } : { success: false }
			},
			{ path: '/strict' },
			{ path: '/room/:name', origins: 'any' },
			{
				path: '/first',
				origins: 'any',
				firstMessageAuth: { verify: (token) => ({ success: token == 'good', data: {} }) }
			}
		]
	});
	// As server.js: the metrics path first, everything else to the app (here a 404).
	const serveMetrics = metricsRequestHandler(sockets, { token: TOKEN });
	const serveUnconfigured = metricsRequestHandler(sockets, { token: '', path: '/open' });
	const http = createServer((request, response) => {
		if (serveMetrics(request, response) || serveUnconfigured(request, response)) return;
		response.writeHead(404).end();
	});
	sockets.attach(http);
	await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
	const port = (http.address() as AddressInfo).port;
	const server = { sockets, http, port, url: (path: string) => `ws://127.0.0.1:${port}${path}` };
	running.push(server);
	return server;
}

async function scrape(server: Running): Promise<Exposition> {
	const response = await within(
		fetch(`http://127.0.0.1:${server.port}/metrics`, {
			headers: { Authorization: `Bearer ${TOKEN}` }
		}),
		'the scrape'
	);
	expect(response.status).toBe(200);
	expect(response.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE);
	return parseExposition(await response.text());
}

function value(exposition: Exposition, key: string): number {
	const found = exposition.samples.get(key);
	if (found === undefined) throw new Error(`No sample ${key}`);
	return found;
}

async function connected(url: string): Promise<WsPeer> {
	const client = await connectRaw(url);
	await client.nextMessage('connected');
	return client;
}

// ---------------------------------------------------------------------------------------------

describe('GET /metrics', () => {
	it('answers 401 without the bearer token or with a wrong one, 404 where no token is configured', async () => {
		const server = await start();
		const base = `http://127.0.0.1:${server.port}`;
		const none = await fetch(`${base}/metrics`);
		expect(none.status).toBe(401);
		expect(none.headers.get('www-authenticate')).toBe('Bearer');
		const wrong = await fetch(`${base}/metrics`, {
			headers: { Authorization: `Bearer ${TOKEN.slice(1)}x` }
		});
		expect(wrong.status).toBe(401);
		expect(await wrong.text()).not.toContain('runesocket_');
		const unconfigured = await fetch(`${base}/open`, {
			headers: { Authorization: 'Bearer ' }
		});
		expect(unconfigured.status).toBe(404);
		const post = await fetch(`${base}/metrics`, {
			method: 'POST',
			headers: { Authorization: `Bearer ${TOKEN}` }
		});
		expect(post.status).toBe(405);
		const other = await fetch(`${base}/metrics-not`);
		expect(other.status).toBe(404); // left to the app
	});

	it('exposes every family in the text format, and the values move as traffic flows', async () => {
		const server = await start();
		const before = await scrape(server);
		const families = [...before.types.keys()];
		expect(families.every((name) => name.startsWith('runesocket_'))).toBe(true);
		expect(before.types.get('runesocket_publish_duration_seconds')).toBe('histogram');
		expect(value(before, 'runesocket_connections_open{route="/ws"}')).toBe(0);
		expect(value(before, 'runesocket_engine_healthy')).toBe(1);
		expect(value(before, 'runesocket_messages_received_total')).toBe(0);

		// Connections, and messages both ways.
		const alice = await connected(server.url('/ws'));
		const bob = await connected(server.url('/ws'));
		alice.send('2');
		bob.send('2');
		await alice.roundTrip();
		await bob.roundTrip();
		let now = await scrape(server);
		expect(value(now, 'runesocket_connections_open{route="/ws"}')).toBe(2);
		expect(value(now, 'runesocket_connections_opened_total{route="/ws"}')).toBe(2);
		expect(value(now, 'runesocket_messages_received_total')).toBe(2);
		// Two `connected` greetings and two heartbeat answers.
		expect(value(now, 'runesocket_messages_sent_total')).toBeGreaterThanOrEqual(4);
		expect(value(now, 'runesocket_sent_bytes_total')).toBeGreaterThan(
			value(now, 'runesocket_messages_sent_total')
		);

		// Refused authentications: at the upgrade (HTTP 401) and by the first frame (close 4001).
		expect((await refusedUpgrade(server.url('/auth'))).status).toBe(401);
		const stranger = await connectRaw(server.url('/first'));
		stranger.send({ name: 'auth', data: { token: 'bad' } });
		expect((await stranger.closedWithin()).code).toBe(4001);
		now = await scrape(server);
		expect(value(now, 'runesocket_auth_refused_total{code="401"}')).toBe(1);
		expect(value(now, 'runesocket_auth_refused_total{code="4001"}')).toBe(1);
		expect(value(now, 'runesocket_connections_closed_total{code="4001"}')).toBe(1);

		// A rate-limited frame.
		const hasty = await connected(server.url('/limited'));
		for (let frame = 0; frame < 4; frame++) hasty.send('2');
		const refusal = await hasty.nextMessage('error');
		expect((refusal.data as { code: string }).code).toBe('rate_limited');
		now = await scrape(server);
		expect(value(now, 'runesocket_rate_limited_total')).toBeGreaterThanOrEqual(1);
		expect(value(now, 'runesocket_connections_open{route="/limited"}')).toBe(1);

		// A replay: a join from an earlier position gets the three messages it missed.
		const since = await server.sockets.position('history');
		for (let seq = 0; seq < 3; seq++) {
			await server.sockets.publish(Tick, { seq }, { room: 'history' });
		}
		alice.send({ name: 'room.join', data: { room: 'history', since }, id: 1 });
		const joined = await alice.nextMessage('room.joined');
		expect((joined.data as { recovered: boolean }).recovered).toBe(true);
		// A join from a position the room never had: unrecoverable.
		const bogus = { offset: 1, epoch: 'not-this-one' };
		bob.send({ name: 'room.join', data: { room: 'history', since: bogus }, id: 1 });
		expect(((await bob.nextMessage('room.joined')).data as { recovered: boolean }).recovered).toBe(
			false
		);
		now = await scrape(server);
		expect(value(now, 'runesocket_replays_total')).toBe(1);
		expect(value(now, 'runesocket_replayed_messages_total')).toBe(3);
		expect(value(now, 'runesocket_rooms_unrecoverable_total{during="join"}')).toBe(1);
		expect(value(now, 'runesocket_publish_duration_seconds_count')).toBe(3);
		expect(value(now, 'runesocket_publish_duration_seconds_bucket{le="+Inf"}')).toBe(3);
		expect(value(now, 'runesocket_publish_duration_seconds_sum')).toBeGreaterThan(0);

		// A slow consumer: bob stops reading while the room keeps publishing.
		bob.socket.pause();
		const blob = randomBytes(48 * 1024).toString('base64');
		let published = 0;
		while (server.sockets.metricsSnapshot().slowConsumerCloses == 0 && published < 2_000) {
			await server.sockets.publish(Tick, { seq: published++, blob }, { room: 'history' });
			await new Promise((resolve) => setImmediate(resolve)); // the outboxes are written
		}
		now = await scrape(server);
		expect(value(now, 'runesocket_slow_consumer_closes_total')).toBe(1);
		expect(value(now, 'runesocket_publish_duration_seconds_count')).toBe(3 + published);
		bob.socket.resume();
		expect((await bob.closedWithin()).code).toBe(1013);
		now = await scrape(server);
		expect(value(now, 'runesocket_connections_closed_total{code="1013"}')).toBe(1);
		expect(value(now, 'runesocket_connections_open{route="/ws"}')).toBe(1);
	});

	it('counts upgrades refused before authentication by reason', async () => {
		const server = await start();
		const refusal = await refusedUpgrade(server.url('/strict'), { Origin: 'http://evil.example' });
		expect(refusal.status).toBe(403);
		const now = await scrape(server);
		expect(value(now, 'runesocket_upgrades_refused_total{reason="origin"}')).toBe(1);
		expect(now.samples.has('runesocket_auth_refused_total{code="403"}')).toBe(false);
	});

	it('reports the engine health the engine reports, and publish failures', async () => {
		class FlakyEngine extends MemoryEngine {
			healthy = true;
			override async publish(...args: Parameters<MemoryEngine['publish']>) {
				if (!this.healthy) throw new Error('engine down');
				return super.publish(...args);
			}
		}
		const engine = new FlakyEngine();
		const sockets = createSocketServer({ engine, routes: [{ path: '/ws' }] });
		await sockets.ready();
		await sockets.publish(Tick, { seq: 1 }, { room: 'r' });
		expect(sockets.metricsSnapshot().engineHealthy).toBe(true);
		engine.healthy = false;
		await expect(sockets.publish(Tick, { seq: 2 }, { room: 'r' })).rejects.toThrow('engine down');
		const text = parseExposition(sockets.metrics());
		expect(value(text, 'runesocket_engine_healthy')).toBe(0);
		expect(value(text, 'runesocket_publish_failures_total')).toBe(1);
		expect(value(text, 'runesocket_publish_duration_seconds_count')).toBe(1);
		await sockets.close();
	});
});

// Issue 17, item 4: a client chose the close code, and each code became a series (2,000 sockets,
// 2,001 series, a scrape of 3.8 → 106 KB). Nothing a client sends may add a series.
describe('series a client cannot grow', () => {
	function closedTotal(sockets: SocketServer): number {
		const { connectionsClosed } = sockets.metricsSnapshot();
		return Object.values(connectionsClosed).reduce((sum, count) => sum + count, 0);
	}

	/**
	 * What client `index` controls, all at once and each time different: the close code it sends (a
	 * private 3000–3999 one, an application 4xxx one, a standard one no client should send), the
	 * route parameter and the unrouted path it asks for, the message names it sends, the token it
	 * authenticates with and the Origin it claims. Returns how many connections it opened.
	 */
	async function hostileClient(server: Running, index: number): Promise<number> {
		const own = await connected(server.url('/ws'));
		own.send({ name: `made.up.${index}`, data: index, id: index });
		own.send({ name: 'room.join', data: { room: `room-${index}` }, id: index + 1 });
		await own.nextMessage('room.joined');
		own.socket.close(3000 + (index % 1000));
		const param = await connected(server.url(`/room/r${index}`));
		param.socket.close(4100 + (index % 800));
		const standard = await connected(server.url('/ws'));
		standard.socket.close(1003);
		const token = await connectRaw(server.url('/first'));
		token.send({ name: 'auth', data: { token: `forged-${index}` } });
		await token.closedWithin();
		await refusedUpgrade(server.url(`/nowhere/${index}`));
		await refusedUpgrade(server.url('/strict'), { Origin: `http://evil-${index}.example` });
		await Promise.all([own.closedWithin(), param.closedWithin(), standard.closedWithin()]);
		return 4;
	}

	async function run(server: Running, from: number, count: number): Promise<number> {
		const opened = await Promise.all(
			Array.from({ length: count }, (_, offset) => hostileClient(server, from + offset))
		);
		return opened.reduce((sum, each) => sum + each, 0);
	}

	it('keeps every label bounded however many clients close with codes of their own', async () => {
		const server = await start();
		let expectedCloses = await run(server, 0, 2);
		await until(() => closedTotal(server.sockets) == expectedCloses, 'the first closes counted');
		const baseline = await scrape(server);
		const baselineText = server.sockets.metrics().length;

		const clients = 62;
		for (let from = 2; from < clients; from += 30) expectedCloses += await run(server, from, 30);
		await until(() => closedTotal(server.sockets) == expectedCloses, 'every close counted');
		const after = await scrape(server);
		const afterText = server.sockets.metrics().length;
		console.log(
			`[series] ${expectedCloses} hostile connections: ${baseline.samples.size} → ${after.samples.size} series, scrape ${baselineText} → ${afterText} B`
		);

		expect([...after.samples.keys()].sort()).toEqual([...baseline.samples.keys()].sort());
		const closedCodes = [...after.samples.keys()]
			.filter((key) => key.startsWith('runesocket_connections_closed_total'))
			.map((key) => /code="([^"]*)"/.exec(key)![1])
			.sort();
		// 1003 is a standard code, 4001 the server's own refusal; every code a client picked is "other".
		expect(closedCodes).toEqual(['1003', '4001', 'other']);
		expect(value(after, 'runesocket_connections_closed_total{code="other"}')).toBe(2 * clients);
		expect(value(after, 'runesocket_connections_opened_total{route="/room/:name"}')).toBe(clients);
		expect(value(after, 'runesocket_upgrades_refused_total{reason="origin"}')).toBe(clients);
		expect(value(after, 'runesocket_auth_refused_total{code="4001"}')).toBe(clients);
	});

	it("labels a code the server closed with as the server's, whatever code the peer answers with", async () => {
		const server = await start();
		const peer = await RawClient.connect(server.port, { path: '/ws' });
		await peer.waitForText((text) => text.includes('"connected"'), 'connected');
		const [connection] = server.sockets.connections;
		connection.close(4321, 'Kicked');
		expect(await peer.waitForClose()).toEqual({ code: 4321, reason: 'Kicked' });
		const answer = Buffer.alloc(2);
		answer.writeUInt16BE(3999);
		peer.send(Opcode.Close, answer);
		await within(peer.ended, 'the server to end the connection');
		await until(() => closedTotal(server.sockets) == 1, 'the close counted');
		expect(server.sockets.metricsSnapshot().connectionsClosed).toEqual({ '4321': 1 });
	});
});
