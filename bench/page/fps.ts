// The signed-in dashboard under a stream of monitor checks, in headless Chromium: frames per
// second, long tasks, lag from publish to the page, whether the server closed the page's socket
// as a slow consumer (1013), how soon after the load every monitor shows its newest check, and how
// long the page said it was behind. Issue 12's targets: at 2,000 messages/s ≥ 55 fps and no long
// task over 50 ms; at 10,000/s the page degrades gracefully (coalesces, says it is behind) instead
// of being closed. Issue 21's, with the CPU slowed 6×: never closed, every monitor's newest state on
// screen within 2 s of the load stopping, no "Behind" notice for more than a few seconds at a time.
// Run: `npx tsx bench/page/fps.ts [--ref <commit>] [--seconds 10] [--rates 2000,10000] [--throttle 6]
// [--workload checks|states]`, or as part of `npm run bench -- --suites page`.
//
// A production build served by server.js on a Redis of the bench's own; the bench publishes with
// RedisPublisher into the signed-in team's project rooms, as the demo's simulator process does,
// paced to the rate. Browser, server, Redis and publisher share this machine's cores. Chromium is
// driven over the DevTools protocol without the Network domain (cdp.ts): Playwright's per-frame
// WebSocket reporting would add work on the page's main thread at these rates. The page's
// numbers come from a probe inside it (probe.ts).
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { ClientMessage, type MessageDefinition } from '../../src/lib/index.js';
import { RedisPublisher } from '../../src/lib/redis/index.js';
import { BenchRedis } from '../throughput/redis-server.js';
import { buildApp, metric, signIn, startServer, type BuiltApp, type RunningServer } from './app.js';
import { cpuByGroup } from './cpu.js';
import { CdpPage, launchChromium } from './cdp.js';
import { installProbe, type ProbeOptions, type WindowSummary } from './probe.js';

/**
 * One check of a monitor as the demo publishes it (src/demo/messages.ts, `MonitorChecked`); pages
 * before issue 21 read no `seq`.
 */
interface MonitorCheck {
	uuid: string;
	at: number;
	ms: number | null;
	seq: number;
}
/** A monitor's whole state (`MonitorStatusChanged`); pages before 39d22c5 read no checks or spans. */
interface MonitorState {
	uuid: string;
	account: string;
	project: string;
	name: string;
	status: 'up' | 'degraded' | 'down';
	changedAt: number;
	checks: { at: number; ms: number | null }[];
	spans: { at: number; status: 'up' | 'degraded' | 'down' }[];
}
/**
 * The demo's messages by their wire names. The page takes them without a schema, as it takes them
 * from its own server; these definitions carry none either, so the bench measures the page and
 * not its own validation. Keyed by monitor, as the demo keys them, for a build whose server
 * conflates them (`BuiltApp.conflatesMonitors`).
 */
function monitorMessages(keyed: boolean) {
	const byMonitor = { conflationKey: (data: { uuid: string }) => data.uuid };
	return keyed
		? {
				MonitorChecked: ClientMessage.define<MonitorCheck>('monitor.checked', byMonitor),
				MonitorStatusChanged: ClientMessage.define<MonitorState>(
					'monitor.status-changed',
					byMonitor
				)
			}
		: {
				MonitorChecked: ClientMessage.define<MonitorCheck>('monitor.checked'),
				MonitorStatusChanged: ClientMessage.define<MonitorState>('monitor.status-changed')
			};
}

/** A monitor of the signed-in team, as the page shows it. */
interface ShownMonitor {
	uuid: string;
	name: string;
	room: string;
}

/** What the bench publishes for a monitor, and which field of it holds the publish time. */
interface Workload {
	definition: MessageDefinition<MonitorCheck> | MessageDefinition<MonitorState>;
	probe: ProbeOptions;
	publish(publisher: RedisPublisher, monitor: ShownMonitor, sequence: number): Promise<unknown>;
	/**
	 * Publishes one last message to each monitor, which none before it resembles, and returns an
	 * expression the page makes true once every monitor shows it (undefined: the page has no way to
	 * show it).
	 */
	finish(publisher: RedisPublisher, monitors: ShownMonitor[]): Promise<string | undefined>;
}

const STATUSES = ['up', 'degraded', 'down'] as const;

/** Plausible response times: a slow wave with some noise, now and then no answer at all. */
const latency = (sequence: number): number | null =>
	sequence % 997 == 0 ? null : Math.round(120 + 60 * Math.sin(sequence / 50) + (sequence % 37));

/** The first check number the bench publishes: above any the demo's own checks reached. */
const FIRST_SEQ = 1_000_000;
/** The last check of each monitor answers in this many ms (plus its index): no load check does. */
const FINAL_MS = 1_000;

/**
 * Checks for a page that draws them; for one that does not (before issue 12's sparklines), the one
 * monitor message it draws: the whole monitor with a new status each time.
 */
function workload(kind: 'checks' | 'states', account: string, keyed: boolean): Workload {
	const { MonitorChecked, MonitorStatusChanged } = monitorMessages(keyed);
	if (kind == 'checks') {
		// Each monitor's checks are numbered, as the demo numbers them, so its sparkline sees gaps.
		const checked = new Map<string, number>();
		const check = (publisher: RedisPublisher, monitor: ShownMonitor, ms: number | null) => {
			const seq = checked.get(monitor.uuid) ?? FIRST_SEQ;
			checked.set(monitor.uuid, seq + 1);
			return publisher
				.to(monitor.room)
				.emit(MonitorChecked, { uuid: monitor.uuid, at: Date.now(), ms, seq });
		};
		return {
			definition: MonitorChecked,
			probe: { messageName: MonitorChecked.name, timeField: 'at' },
			publish: (publisher, monitor, sequence) => check(publisher, monitor, latency(sequence)),
			async finish(publisher, monitors) {
				await Promise.all(
					monitors.map((monitor, index) => check(publisher, monitor, FINAL_MS + index))
				);
				const shown = monitors.map((monitor, index) => [monitor.uuid, `${FINAL_MS + index} ms`]);
				return `${JSON.stringify(shown)}.every(([uuid, text]) => document.querySelector(\`[data-monitor="\${uuid}"] [data-testid="latency"]\`)?.textContent?.trim() == text)`;
			}
		};
	}
	const publish = (publisher: RedisPublisher, monitor: ShownMonitor, sequence: number) => {
		const status = STATUSES[sequence % STATUSES.length];
		const changedAt = Date.now();
		return publisher.to(monitor.room).emit(MonitorStatusChanged, {
			uuid: monitor.uuid,
			account,
			project: monitor.uuid.split('/')[1],
			name: monitor.name,
			status,
			changedAt,
			checks: [],
			spans: [{ at: changedAt, status }]
		});
	};
	return {
		definition: MonitorStatusChanged,
		probe: { messageName: MonitorStatusChanged.name, timeField: 'changedAt' },
		publish,
		async finish(publisher, monitors) {
			// One more state, which tells when the page got everything; no card shows which one it is.
			await publish(publisher, monitors[0]!, 0);
			return undefined;
		}
	};
}

/** Publishes this many messages at most without an answer from Redis; past it the bench is behind. */
const MAX_IN_FLIGHT = 20_000;
/** How often the pacer wakes up to publish what is due. */
const PACE_MS = 5;
/** How long the page is measured idle before the load. */
const QUIET_SECONDS = 3;
const CATCH_UP_TIMEOUT_MS = 30_000;
const LIVE_TIMEOUT_MS = 20_000;

interface PhaseResult {
	name: string;
	rate: number;
	/** How long the phase published (or, idle, lasted), s. */
	seconds: number;
	published: number;
	/** Messages the pacer could not publish because too many were waiting for Redis. */
	skipped: number;
	failed: number;
	summary: WindowSummary;
	/** From the end of publishing until the page had the last message, ms (undefined: never). */
	catchUpMs: number | undefined;
	/**
	 * From the end of publishing until every monitor showed its newest check, ms (undefined: not
	 * within the timeout; null: the page shows no check).
	 */
	newestShownMs: number | null | undefined;
	slowConsumerCloses: number;
	/** Messages the server did not send the page: a newer one of their monitor superseded them. */
	conflated: number;
	/** CPU used in the phase by group, % of one core. */
	cpu: Record<string, number>;
}

/** The probe's summary of a window (see probe.ts). */
const summary = (page: CdpPage, from: number, to: number) =>
	page.evaluate<WindowSummary>(`window.__pageProbe.summary(${from}, ${to})`);

const newestPublishedAt = (page: CdpPage) =>
	page.evaluate<number>('window.__pageProbe.totals().newestPublishedAt');

const BADGE_IS_LIVE = `document.querySelector('[data-testid="connection-badge"]')?.textContent?.trim() == 'Live'`;

/**
 * Publishes `rate` messages a second for `seconds`, round-robin over the monitors, paced in steps of
 * a few milliseconds; then waits (bounded) for every publish to be answered.
 */
async function publishPaced(
	publisher: RedisPublisher,
	load: Workload,
	monitors: ShownMonitor[],
	rate: number,
	seconds: number
): Promise<{ published: number; skipped: number; failed: number; last: Promise<unknown> }> {
	let due = 0;
	let published = 0;
	let skipped = 0;
	let failed = 0;
	let inFlight = 0;
	let last: Promise<unknown> = Promise.resolve();
	const started = performance.now();
	const total = Math.round(rate * seconds);
	while (due < total) {
		due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
		while (published + skipped < due) {
			if (inFlight >= MAX_IN_FLIGHT) {
				skipped += due - published - skipped;
				break;
			}
			const sequence = published++;
			inFlight++;
			last = load
				.publish(publisher, monitors[sequence % monitors.length], sequence)
				.catch(() => failed++)
				.finally(() => inFlight--);
		}
		await new Promise((resolve) => setTimeout(resolve, PACE_MS));
	}
	return { published, skipped, failed, last };
}

async function waitUntil(condition: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await condition()) return true;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	return false;
}

/** The processes whose CPU the bench reports; Chromium's are the bench's other children. */
interface Processes {
	server: RunningServer;
	redisPid: number;
}

function cpuNow(processes: Processes): Record<string, number> {
	return cpuByGroup({ server: processes.server.process.pid!, redis: processes.redisPid });
}

/** Each group's CPU between two readings, in % of one core over `seconds`. */
function cpuShare(before: Record<string, number>, after: Record<string, number>, seconds: number) {
	return Object.fromEntries(
		Object.keys(after).map((name) => [name, (after[name] - (before[name] ?? 0)) / 1e4 / seconds])
	);
}

interface Session {
	page: CdpPage;
	publisher: RedisPublisher;
	load: Workload;
	monitors: ShownMonitor[];
	processes: Processes;
}

async function idlePhase(session: Session, seconds: number): Promise<PhaseResult> {
	const cpuBefore = cpuNow(session.processes);
	const from = Date.now();
	// A window to measure, not a wait for something: the page is left alone for it.
	await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
	const to = Date.now();
	return {
		name: 'idle',
		rate: 0,
		seconds: (to - from) / 1000,
		published: 0,
		skipped: 0,
		failed: 0,
		summary: await summary(session.page, from, to),
		catchUpMs: undefined,
		newestShownMs: undefined,
		slowConsumerCloses: 0,
		conflated: 0,
		cpu: cpuShare(cpuBefore, cpuNow(session.processes), (to - from) / 1000)
	};
}

async function loadPhase(session: Session, rate: number, seconds: number): Promise<PhaseResult> {
	const { page, publisher, load, monitors, processes } = session;
	const closesBefore = await metric(processes.server, 'runesocket_slow_consumer_closes_total');
	const conflatedBefore = await metric(processes.server, 'runesocket_messages_conflated_total');
	const cpuBefore = cpuNow(processes);
	const from = Date.now();
	const sent = await publishPaced(publisher, load, monitors, rate, seconds);
	const to = Date.now();
	const cpu = cpuShare(cpuBefore, cpuNow(processes), (to - from) / 1000);
	// One more message per monitor after the load: once the page has them, the backlog is gone, and
	// once every card shows its own, the page is current.
	const lastPublishedAt = Date.now();
	const shownExpression = await load.finish(publisher, monitors);
	await Promise.race([sent.last, new Promise((resolve) => setTimeout(resolve, 10_000))]);
	let caughtUpAt: number | undefined;
	let shownAt: number | undefined;
	await waitUntil(async () => {
		caughtUpAt ??= (await newestPublishedAt(page)) >= lastPublishedAt ? Date.now() : undefined;
		if (shownExpression)
			shownAt ??= (await page.evaluate<boolean>(shownExpression)) ? Date.now() : undefined;
		return caughtUpAt !== undefined && (!shownExpression || shownAt !== undefined);
	}, CATCH_UP_TIMEOUT_MS);
	const settled = Date.now();
	// Frames and tasks while the load lasted; what the page showed and closes until it caught up,
	// since a close (or its notice) queued behind a backlog arrives after the load.
	const whileLoaded = await summary(page, from, to);
	const untilSettled = await summary(page, from, settled);
	return {
		name: `${rate.toLocaleString('en')}/s`,
		rate,
		seconds: (to - from) / 1000,
		published: sent.published,
		skipped: sent.skipped,
		failed: sent.failed,
		summary: {
			...whileLoaded,
			closes: untilSettled.closes,
			badge: untilSettled.badge,
			lagIndicator: untilSettled.lagIndicator,
			behind: untilSettled.behind
		},
		catchUpMs: caughtUpAt === undefined ? undefined : caughtUpAt - to,
		newestShownMs: !shownExpression ? null : shownAt === undefined ? undefined : shownAt - to,
		slowConsumerCloses:
			(await metric(processes.server, 'runesocket_slow_consumer_closes_total')) - closesBefore,
		conflated:
			(await metric(processes.server, 'runesocket_messages_conflated_total')) - conflatedBefore,
		cpu
	};
}

/**
 * The team's monitors as the page shows them, each with its project's room, once the server said
 * the page joined all of them (Live comes first, with the connection; the joins follow).
 */
async function shownMonitors(page: CdpPage): Promise<ShownMonitor[]> {
	const cards = await page.evaluate<{ uuid: string; name: string }[]>(
		`[...document.querySelectorAll('[data-monitor]')].map((card) => ({
			uuid: card.dataset.monitor,
			name: card.querySelector('.name')?.textContent?.trim() ?? ''
		}))`
	);
	if (cards.length == 0) throw new Error('The dashboard shows no monitor ([data-monitor])');
	// A monitor is `<account>/<project>/<slug>`, in its project's room (`projectRoom` in messages.ts).
	const monitors = cards.map(({ uuid, name }) => ({
		uuid,
		name,
		room: `project:${uuid.split('/').slice(0, 2).join('/')}`
	}));
	const rooms = JSON.stringify([...new Set(monitors.map((monitor) => monitor.room))]);
	await page.waitFor(
		`${rooms}.every((room) => window.__pageProbe.totals().joinedRooms.includes(room))`,
		LIVE_TIMEOUT_MS
	);
	return monitors;
}

// A window without samples has NaN in the page, which arrives here as null (JSON has no NaN).
const ms = (value: number | null | undefined) =>
	value == null || Number.isNaN(value) ? '—' : Math.round(value).toLocaleString('en');
const percent = (value: number | undefined) =>
	value === undefined ? '—' : `${Math.round(value)}%`;

/**
 * Texts in the order shown, each once, with a run of texts that differ only in their number as one
 * range: 'hidden → Behind by 2–37 s, catching up → hidden'.
 */
function stretches(texts: string[]): string {
	const runs: { shape: string; low: number; high: number; text: string }[] = [];
	for (const text of texts) {
		const number = /\d+/.exec(text);
		const shape = text.replace(/\d+/, '#');
		const last = runs.at(-1);
		if (last?.shape == shape && number) {
			last.low = Math.min(last.low, Number(number[0]));
			last.high = Math.max(last.high, Number(number[0]));
		} else if (last?.text != text) {
			runs.push({ shape, low: Number(number?.[0]), high: Number(number?.[0]), text });
		}
	}
	const shown = runs.map(({ shape, low, high, text }) =>
		low == high || Number.isNaN(low) ? text : shape.replace('#', `${low}–${high}`)
	);
	return shown.join(' → ') || '—';
}

function printResults(results: PhaseResult[]): void {
	console.log(
		'| phase | published/s | received/s | fps | longest frame gap ms | long tasks > 50 ms | longest task ms | blocking ms/s | lag p50 / p95 / max ms | caught up after ms | every monitor current after ms | socket closes | 1013 closes (server) | conflated (server) | badge | lag indicator | "Behind" shown: longest / in all s | CPU: Chromium / server / Redis / publisher |'
	);
	console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
	for (const result of results) {
		const { summary: page, cpu } = result;
		const closes = page.closes.map(({ code }) => code).join(', ') || 'none';
		const shortfall = [
			result.skipped &&
				`${result.skipped.toLocaleString('en')} not sent: that many waited for Redis`,
			result.failed && `${result.failed.toLocaleString('en')} failed`
		]
			.filter(Boolean)
			.join(', ');
		const published = `${Math.round(result.published / result.seconds).toLocaleString('en')}${shortfall ? ` (${shortfall})` : ''}`;
		const after = (value: number | null | undefined) =>
			!result.rate || value === null
				? '—'
				: value === undefined
					? `not within ${CATCH_UP_TIMEOUT_MS / 1000} s`
					: ms(value);
		const seconds = (value: number) => (value / 1000).toFixed(1);
		const behind = `${seconds(page.behind.longestMs)} / ${seconds(page.behind.totalMs)}`;
		const badge = [...new Set(page.badge)].join(' → ') || '—';
		const lagIndicator = stretches(page.lagIndicator.map((text) => text || 'hidden'));
		const cpuShares = [cpu.rest, cpu.server, cpu.redis, cpu.bench].map(percent).join(' / ');
		console.log(
			`| ${result.name} | ${published} | ${Math.round(page.receivedPerSecond).toLocaleString('en')} | ${page.fps.toFixed(1)} | ${ms(page.maxFrameGap)} | ${page.longTasks} | ${ms(page.maxLongTask)} | ${ms(page.blockingMs / result.seconds)} | ${ms(page.lag.p50)} / ${ms(page.lag.p95)} / ${ms(page.lag.max)} | ${after(result.catchUpMs)} | ${after(result.newestShownMs)} | ${closes} | ${result.slowConsumerCloses} | ${result.conflated.toLocaleString('en')} | ${badge} | ${lagIndicator} | ${behind} | ${cpuShares} |`
		);
	}
}

/**
 * Serves `app` on a Redis of its own, opens the signed-in dashboard in headless Chromium and
 * measures it idle, then under each rate of `rates` messages/s for `seconds`. Publishes checks
 * when the page draws them, else whole monitor states (`workload` forces one). Prints a Markdown
 * table; throws only when something could not be measured.
 *
 * @example
 * await measureFps(buildApp({}), { rates: [2_000, 10_000], seconds: 10 });
 */
export async function measureFps(
	app: BuiltApp,
	options: {
		rates: number[];
		seconds: number;
		workload?: 'checks' | 'states';
		/** Then the highest rate once more with Chromium's CPU slowed this many times (a slow phone). */
		throttle?: number;
	}
): Promise<void> {
	const redis = await BenchRedis.start();
	// The bench's checks are the only ones: the demo's simulator would change what the cards show.
	const server = await startServer(app, {
		REDIS_URL: redis.url,
		DEMO_CHECK_INTERVAL_MS: '0',
		DEMO_MONITOR_INTERVAL_MS: '0'
	});
	const publisher = new RedisPublisher({ redis: redis.url });
	const browser = await launchChromium();
	const page = await CdpPage.open(browser);
	try {
		const team = 'page-bench';
		const [name, value] = (await signIn(server.url, 'Bench', team)).split('=');
		await page.send('Network.setCookie', { name, value, url: server.url });
		// The team's account is its name as a slug: 'page-bench' is one already.
		const load = workload(
			options.workload ?? (app.drawsMonitorChecks ? 'checks' : 'states'),
			team,
			app.conflatesMonitors
		);
		// tsx keeps function names with a helper (__name) the page does not have: a stand-in first.
		await page.send('Page.addScriptToEvaluateOnNewDocument', {
			source: `globalThis.__name = (target) => target; (${installProbe.toString()})(${JSON.stringify(load.probe)});`
		});
		await page.send('Page.navigate', { url: server.url });
		await page.waitFor(BADGE_IS_LIVE, LIVE_TIMEOUT_MS);
		const monitors = await shownMonitors(page);
		const rooms = new Set(monitors.map((monitor) => monitor.room)).size;
		console.log(
			`Built from ${app.source}; server.js on a Redis of its own, Chromium headless at 1280×720 (no Network domain), 1-minute load ${loadavg()[0].toFixed(2)} at the start.`
		);
		console.log(
			`Publishing \`${load.definition.name}\`${app.conflatesMonitors ? ' (conflated per monitor)' : ''} round-robin to ${monitors.length} monitors in ${rooms} project rooms, ${options.seconds} s per rate; the demo's simulated checks and status changes off.\n`
		);

		const session: Session = {
			page,
			publisher,
			load,
			monitors,
			processes: { server, redisPid: redis.pid }
		};
		const results = [await idlePhase(session, QUIET_SECONDS)];
		for (const rate of options.rates) results.push(await loadPhase(session, rate, options.seconds));
		if (options.throttle && options.throttle > 1) {
			const rate = Math.max(...options.rates);
			await page.send('Emulation.setCPUThrottlingRate', { rate: options.throttle });
			const slowed = await loadPhase(session, rate, options.seconds);
			await page.send('Emulation.setCPUThrottlingRate', { rate: 1 });
			results.push({ ...slowed, name: `${slowed.name}, CPU ×${options.throttle}` });
		}
		printResults(results);
		console.log(`\n(1-minute load ${loadavg()[0].toFixed(2)} at the end.)`);
	} finally {
		page.close();
		browser.kill();
		await publisher.close();
		await server.stop();
		await redis.stop();
	}
}

if (import.meta.url == pathToFileURL(process.argv[1] ?? '').href) {
	const { values } = parseArgs({
		options: {
			ref: { type: 'string' },
			seconds: { type: 'string', default: '10' },
			rates: { type: 'string', default: '2000,10000' },
			throttle: { type: 'string', default: '6' },
			workload: { type: 'string' }
		}
	});
	if (values.workload !== undefined && values.workload != 'checks' && values.workload != 'states') {
		throw new TypeError(`--workload is checks or states, not ${values.workload}`);
	}
	const app = buildApp({ ref: values.ref });
	try {
		await measureFps(app, {
			rates: values.rates.split(',').map(Number),
			seconds: Number(values.seconds),
			throttle: Number(values.throttle),
			workload: values.workload
		});
	} finally {
		app.remove();
	}
}
