// What the load benchmark measures inside the page, installed before the page's own scripts run
// (Page.addScriptToEvaluateOnNewDocument): every animation frame, every long task, and what arrives on the
// page's WebSocket. Everything is kept in bounded buffers; the bench asks for a summary of a time
// window once the page is quiet again, so that asking does not disturb what is measured.
//
// The function is serialised into the page: it uses nothing from outside its own body.

/** What the bench tells the probe about the messages it publishes. */
export interface ProbeOptions {
	/** The published message's name, e.g. 'monitor.checked'. */
	messageName: string;
	/** The field of its data holding `Date.now()` at publish time, e.g. 'at'. */
	timeField: string;
}

/** One window of the page's life, summarised. All times are epoch milliseconds. */
export interface WindowSummary {
	/** Animation frames per second over the window. */
	fps: number;
	/** The longest time between two frames, ms. */
	maxFrameGap: number;
	longTasks: number;
	maxLongTask: number;
	/** Σ (long task − 50 ms), as Lighthouse's TBT counts it. */
	blockingMs: number;
	/** Messages of the published kind that reached the page's socket, per second. */
	receivedPerSecond: number;
	/** Publish to arrival at the page's main thread, over a sample of the messages, ms. */
	lag: { p50: number; p95: number; max: number; samples: number };
	/** Close events of the page's sockets in the window. */
	closes: { at: number; code: number; reason: string }[];
	/** Every text the connection badge showed in the window, in order. */
	badge: string[];
	/** Every text the page's lag indicator (data-testid="lag") showed in the window; '' = hidden. */
	lagIndicator: string[];
	/** How long the lag indicator showed ("Behind by …") in the window: its longest stretch and in all, ms. */
	behind: { longestMs: number; totalMs: number };
}

/**
 * Installs the probe as `window.__pageProbe`, with `summary(from, to)` and `totals()`. Its source is
 * what the page runs: `(${installProbe})(options)`.
 *
 * @example
 * await page.send('Page.addScriptToEvaluateOnNewDocument', { source: `(${installProbe})(${JSON.stringify(options)})` });
 */
export function installProbe({ messageName, timeField }: ProbeOptions): void {
	const MAX_FRAMES = 60 * 300;
	const MAX_EVENTS = 5_000;
	const MAX_LAG_SAMPLES = 50_000;
	/** One lag sample per this many messages: reading each costs the page more than it tells. */
	const LAG_SAMPLE_EVERY = 10;
	const BUCKET_MS = 100;

	const frames = new Float64Array(MAX_FRAMES);
	let frameCount = 0;
	const longTasks: [number, number][] = [];
	const receivedBuckets = new Map<number, number>();
	const lagSamples: [number, number][] = [];
	const closes: { at: number; code: number; reason: string }[] = [];
	const badgeTexts: [number, string][] = [];
	const lagTexts: [number, string][] = [];
	const joinedRooms = new Set<string>();
	let newestPublishedAt = 0;
	let messagesSeen = 0;
	const namePrefix = `"${messageName}"`;
	const timePattern = new RegExp(`"${timeField}":(\\d+)`);

	const recordChange = (list: [number, string][], text: string) => {
		if (list.length < MAX_EVENTS && list.at(-1)?.[1] !== text) list.push([Date.now(), text]);
	};
	const onFrame = (now: number) => {
		if (frameCount < MAX_FRAMES) frames[frameCount++] = performance.timeOrigin + now;
		// Read once per frame, which is as often as a person could see either change.
		const badge = document.querySelector('[data-testid="connection-badge"]');
		if (badge) recordChange(badgeTexts, badge.textContent?.trim() ?? '');
		const lag = document.querySelector<HTMLElement>('[data-testid="lag"]');
		recordChange(lagTexts, lag && lag.offsetParent !== null ? (lag.textContent?.trim() ?? '') : '');
		requestAnimationFrame(onFrame);
	};
	requestAnimationFrame(onFrame);

	new PerformanceObserver((list) => {
		for (const entry of list.getEntries()) {
			if (longTasks.length < MAX_EVENTS) {
				longTasks.push([performance.timeOrigin + entry.startTime, entry.duration]);
			}
		}
	}).observe({ type: 'longtask', buffered: true });

	const onMessage = (event: MessageEvent) => {
		if (typeof event.data != 'string') return;
		const head = event.data.slice(0, 64);
		if (head.includes(namePrefix)) {
			const now = Date.now();
			const bucket = Math.floor(now / BUCKET_MS);
			receivedBuckets.set(bucket, (receivedBuckets.get(bucket) ?? 0) + 1);
			const publishedAt = Number(timePattern.exec(event.data)?.[1] ?? 0);
			if (publishedAt > newestPublishedAt) newestPublishedAt = publishedAt;
			if (++messagesSeen % LAG_SAMPLE_EVERY == 0 && lagSamples.length < MAX_LAG_SAMPLES) {
				lagSamples.push([now, now - publishedAt]);
			}
		} else if (head.includes('"room.joined"')) {
			const room = /"room":"([^"]+)"/.exec(event.data)?.[1];
			if (room) joinedRooms.add(room);
		}
	};

	// The page's sockets are this subclass: it listens beside the page, changing nothing it sees.
	const NativeWebSocket = window.WebSocket;
	class ProbedWebSocket extends NativeWebSocket {
		constructor(url: string | URL, protocols?: string | string[]) {
			super(url, protocols);
			this.addEventListener('message', onMessage);
			this.addEventListener('close', (event) => {
				if (closes.length < MAX_EVENTS) {
					closes.push({ at: Date.now(), code: event.code, reason: event.reason });
				}
			});
		}
	}
	window.WebSocket = ProbedWebSocket;

	const percentile = (sorted: number[], share: number) =>
		sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] : NaN;
	const textsIn = (list: [number, string][], from: number, to: number) => {
		// The text in force when the window opened, then every change inside it.
		const before = list.filter(([at]) => at < from).at(-1);
		const inside = list.filter(([at]) => at >= from && at <= to);
		return [...(before ? [before[1]] : []), ...inside.map(([, text]) => text)];
	};

	/** The stretches of the window in which the lag indicator showed some text. */
	const behindIn = (from: number, to: number) => {
		let longestMs = 0;
		let totalMs = 0;
		let since = lagTexts.filter(([at]) => at < from).at(-1)?.[1] ? from : undefined;
		const end = (at: number) => {
			if (since === undefined) return;
			longestMs = Math.max(longestMs, at - since);
			totalMs += at - since;
			since = undefined;
		};
		for (const [at, text] of lagTexts) {
			if (at < from || at > to) continue;
			if (!text) end(at);
			else since ??= at;
		}
		end(to);
		return { longestMs, totalMs };
	};

	const probe = {
		summary(from: number, to: number) {
			const seconds = (to - from) / 1000;
			const inWindow: number[] = [];
			for (let i = 0; i < frameCount; i++) {
				if (frames[i] >= from && frames[i] <= to) inWindow.push(frames[i]);
			}
			let maxFrameGap = 0;
			for (let i = 1; i < inWindow.length; i++) {
				maxFrameGap = Math.max(maxFrameGap, inWindow[i] - inWindow[i - 1]);
			}
			const tasks = longTasks.filter(([start]) => start >= from && start <= to);
			let received = 0;
			for (const [bucket, count] of receivedBuckets) {
				if (bucket * BUCKET_MS >= from && bucket * BUCKET_MS < to) received += count;
			}
			const lags = lagSamples
				.filter(([at]) => at >= from && at <= to)
				.map(([, lag]) => lag)
				.sort((a, b) => a - b);
			return {
				fps: inWindow.length / seconds,
				maxFrameGap,
				longTasks: tasks.length,
				maxLongTask: Math.max(0, ...tasks.map(([, duration]) => duration)),
				blockingMs: tasks.reduce((sum, [, duration]) => sum + Math.max(0, duration - 50), 0),
				receivedPerSecond: received / seconds,
				lag: {
					p50: percentile(lags, 0.5),
					p95: percentile(lags, 0.95),
					max: lags.at(-1) ?? NaN,
					samples: lags.length
				},
				closes: closes.filter(({ at }) => at >= from && at <= to),
				badge: textsIn(badgeTexts, from, to),
				lagIndicator: textsIn(lagTexts, from, to),
				behind: behindIn(from, to)
			};
		},
		totals() {
			return { newestPublishedAt, joinedRooms: [...joinedRooms] };
		}
	};
	(window as unknown as { __pageProbe: typeof probe }).__pageProbe = probe;
}
