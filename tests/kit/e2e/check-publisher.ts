/**
 * Publishes monitor checks into a team's project rooms through Redis, as the demo's simulator
 * process does, paced to a rate, from a process of its own: in the test's process the publisher
 * would share an event loop with Playwright, which parses every WebSocket frame the page receives.
 *
 * Usage: tsx tests/kit/e2e/check-publisher.ts <redis url> <rate/s> <seconds> <account> <uuid>...
 * Prints one JSON line when every publish was answered:
 * `{ "published": n, "failures": [messages], "nextSeq": n }`.
 * Latencies are 100-299 ms, so a test can publish a final check of its own that none of these equals,
 * numbered `nextSeq` (every check of these is numbered below it, and above the seeded ones).
 */
import { MonitorChecked, projectRoom } from '../../../src/demo/messages.js';
import { RedisPublisher } from '../../../src/lib/redis/index.js';

const [redisUrl, rateText, secondsText, account, ...monitors] = process.argv.slice(2);
const rate = Number(rateText);
const total = Math.round(rate * Number(secondsText));
if (!redisUrl || !(rate > 0) || !(total > 0) || !account || monitors.length == 0) {
	console.error('usage: check-publisher.ts <redis url> <rate/s> <seconds> <account> <uuid>...');
	process.exit(2);
}
/** How often the pacer wakes up to publish what is due. */
const PACE_MS = 5;
/** The first check number: above those of a new account's seeded checks (1 to CHECKS_KEPT). */
const FIRST_SEQ = 1_000;

// Redis and this process share two cores with Chromium and the server: a publish that waits longer
// than the default 5 s for its answer is a busy machine, not what the test is about.
const publisher = new RedisPublisher({ redis: redisUrl, timeout: 30_000 });
const failures: string[] = [];
const answers: Promise<unknown>[] = [];
const started = performance.now();
let published = 0;
while (published < total) {
	const due = Math.min(total, Math.floor(((performance.now() - started) * rate) / 1000));
	for (; published < due; published++) {
		const uuid = monitors[published % monitors.length];
		const room = projectRoom(account, uuid.split('/')[1]);
		const seq = FIRST_SEQ + Math.floor(published / monitors.length);
		const check = { uuid, at: Date.now(), ms: 100 + (published % 200), seq };
		answers.push(
			publisher
				.to(room)
				.emit(MonitorChecked, check)
				.catch((error: Error) => failures.push(error.message))
		);
	}
	await new Promise((resolve) => setTimeout(resolve, PACE_MS));
}
await Promise.all(answers);
await publisher.close();
const nextSeq = FIRST_SEQ + Math.ceil(published / monitors.length);
console.log(JSON.stringify({ published, failures: failures.slice(0, 5), nextSeq }));
