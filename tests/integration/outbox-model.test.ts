// Model-based test of the Outbox: fast-check runs random sequences of what an app, a network and a
// tab do — requests (some refused, some slow, some with a short deadline), messages, connects and
// disconnects, cuts, reloads on the same storage, time passing — against a real runesocket server
// on 127.0.0.1 that keeps request keys. Timers stay real (deadlines are short instead): the server's
// and the socket's timers are part of what is tested. Then it drains (connects and waits for every
// entry to settle) and checks that each request ended exactly once: one answer and one effect, or
// one refusal and no effect, or one `expired` drop (its effect, if it came, at most once).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SocketError } from '../../src/lib/index.js';
import {
	Ack,
	MemoryStorage,
	Note,
	openPage,
	reload,
	startEffectServer,
	type EffectServer,
	type Page
} from '../kit/outbox.js';
import { until } from '../kit/wait.js';

/** How one logical request (an `op`) ended, as the app saw it, over every page that held it. */
interface Seen {
	refuse: boolean;
	answers: number;
	refusals: number;
	/** Rejections that are not the end of it: `closed` when a reload disposed the page holding it. */
	handedOver: number;
	expired: number;
	other: unknown[];
}

interface Real {
	readonly server: EffectServer;
	readonly storage: MemoryStorage;
	page: Page;
	/** Every request made, by op. */
	readonly requests: Map<string, Seen>;
	/** Every message emitted, by op. */
	readonly messages: Set<string>;
	/** Handles not settled yet. */
	pending: number;
	next: number;
}

// The model holds nothing the real side does not show: every command can run at any time.
type Model = object;
type Command = fc.AsyncCommand<Model, Real>;

const OPTIONS = { deadline: 60_000 };

/** Follows one handle (a call's promise, or a restored entry's `settled`) of request `op`. */
function follow(real: Real, op: string, handle: Promise<unknown>): void {
	const seen = real.requests.get(op)!;
	real.pending++;
	handle
		.then(
			() => seen.answers++,
			(error: unknown) => {
				if (error instanceof SocketError && error.kind == 'closed') seen.handedOver++;
				else if (error instanceof SocketError && error.code == 'refused') seen.refusals++;
				else if (error instanceof SocketError && error.kind == 'timeout') seen.expired++;
				else seen.other.push(error);
			}
		)
		.finally(() => real.pending--);
}

/** What must hold at every step: nothing applied, answered or refused twice. */
function checkInvariants(real: Real): void {
	for (const [op, count] of real.server.effects) {
		expect(count, `effects of ${op}`).toBeLessThanOrEqual(1);
	}
	for (const [op, seen] of real.requests) {
		expect(seen.answers + seen.refusals + seen.expired, `ends of ${op}`).toBeLessThanOrEqual(1);
		expect(seen.other, `errors of ${op}`).toEqual([]);
	}
	const notes = real.server.notes;
	expect(new Set(notes).size, 'a message received twice').toBe(notes.length);
}

/** What fails right behind a request, while it is in flight. */
type Then = 'cut' | 'disconnect' | 'reload' | undefined;

class Request implements Command {
	constructor(
		readonly refuse: boolean,
		readonly delay: number,
		readonly deadline: number | undefined,
		readonly then: Then = undefined
	) {}
	check = () => true;
	async run(_model: Model, real: Real): Promise<void> {
		const op = `r${real.next++}`;
		real.requests.set(op, {
			refuse: this.refuse,
			answers: 0,
			refusals: 0,
			handedOver: 0,
			expired: 0,
			other: []
		});
		const data = { op, refuse: this.refuse, delay: this.delay };
		follow(real, op, real.page.outbox.request(Ack, data, { deadline: this.deadline }));
		if (this.then) {
			// Once the server has it (or, offline, at once): the answer is what the failure loses.
			await until(
				() => !real.page.client.isConnected || real.server.received.has(op),
				'the server to receive it'
			);
			FAILURES[this.then](real);
		}
		checkInvariants(real);
	}
	toString = () =>
		`request(${[this.refuse && 'refused', this.delay && `${this.delay} ms`, this.deadline && `deadline ${this.deadline}`, this.then && `then ${this.then}`].filter(Boolean).join(', ')})`;
}

class Emit implements Command {
	check = () => true;
	async run(_model: Model, real: Real): Promise<void> {
		const op = `m${real.next++}`;
		real.messages.add(op);
		real.page.outbox.emit(Note, { op });
		checkInvariants(real);
	}
	toString = () => 'emit';
}

/** A command whose effect is one synchronous call, then a few ms for the network to answer. */
function action(name: string, act: (real: Real) => void, ms = 0) {
	return class implements Command {
		check = () => true;
		async run(_model: Model, real: Real): Promise<void> {
			act(real);
			// Time passing is part of the scenario (deadlines are real), not a wait for an event.
			if (ms) await new Promise((resolve) => setTimeout(resolve, ms));
			checkInvariants(real);
		}
		toString = () => name;
	};
}

const FAILURES: Record<NonNullable<Then>, (real: Real) => void> = {
	cut: ({ server }) => server.cut(),
	disconnect: ({ page }) => page.client.disconnect(),
	/** The tab reloads: the page is gone without a word, a new one restores the outbox from storage. */
	reload: (real) => {
		real.page = reload(real.page, real.server.server.url(), { ...OPTIONS, storage: real.storage });
		for (const entry of real.page.outbox.entries) {
			if (entry.kind == 'request') follow(real, (entry.data as { op: string }).op, entry.settled);
		}
	}
};

const Connect = action('connect', ({ page }) => page.client.connect());
const Disconnect = action('disconnect', FAILURES.disconnect);
const Cut = action('cut', FAILURES.cut);
const Reload = action('reload', FAILURES.reload);
const Pass = action('time passes', () => {}, 30);

const commands = [
	fc
		.tuple(
			fc.boolean(),
			fc.constantFrom(0, 0, 5, 20),
			fc.constantFrom<number | undefined>(undefined, undefined, undefined, 20),
			fc.constantFrom<Then>(undefined, undefined, 'cut', 'disconnect', 'reload')
		)
		.map(([refuse, delay, deadline, then]) => new Request(refuse, delay, deadline, then)),
	// Repeated entries weigh more: most runs should have requests in flight when the network or
	// the tab fails them.
	fc.constant(new Request(false, 5, undefined)),
	fc.constant(new Request(false, 5, undefined)),
	fc.constant(new Emit()),
	fc.constant(new Connect()),
	fc.constant(new Connect()),
	fc.constant(new Disconnect()),
	fc.constant(new Cut()),
	fc.constant(new Cut()),
	fc.constant(new Reload()),
	fc.constant(new Reload()),
	fc.constant(new Pass())
];

/** After the scenario: connected for good, every entry settles, and each request ended once. */
async function drain(real: Real): Promise<void> {
	real.page.client.connect();
	await until(
		() => real.page.outbox.entries.length == 0 && real.pending == 0,
		'every entry to settle',
		{ ms: 15_000 }
	);
	checkInvariants(real);
	for (const [op, seen] of real.requests) {
		const effects = real.server.effects.get(op) ?? 0;
		const drops = seen.expired;
		expect(seen.answers + seen.refusals + drops, `${op} ended once`).toBe(1);
		if (seen.answers) expect(effects, `${op}: answered, so applied once`).toBe(1);
		if (seen.refusals) expect(effects, `${op}: refused, so not applied`).toBe(0);
		expect(seen.refusals, `${op}: refused only when the server refuses`).toBeLessThanOrEqual(
			seen.refuse ? 1 : 0
		);
	}
	expect(real.storage.items.size, 'storage left behind').toBe(0);
}

async function setup(): Promise<Real> {
	const server = await startEffectServer();
	const storage = new MemoryStorage();
	const page = openPage(server.server.url(), { ...OPTIONS, storage });
	return {
		server,
		storage,
		page,
		requests: new Map(),
		messages: new Set(),
		pending: 0,
		next: 0
	};
}

/** `SOAK=1` runs the long form. */
const soak = process.env.SOAK == '1';

describe('Outbox, model-based', () => {
	it(
		'applies and answers every request at most once, and each one ends exactly once, through cuts, reloads and deadlines',
		async () => {
			await fc.assert(
				fc.asyncProperty(
					fc.commands(commands, { maxCommands: soak ? 50 : 15, size: '+1' }),
					async (scenario) => {
						const real = await setup();
						try {
							await fc.asyncModelRun(() => ({ model: {}, real }), scenario);
							await drain(real);
						} finally {
							real.page.outbox.dispose();
							real.page.client.dispose();
							await real.server.server.stop();
						}
					}
				),
				{
					numRuns: soak ? 500 : 60,
					interruptAfterTimeLimit: soak ? 600_000 : 40_000,
					markInterruptAsFailure: true
				}
			);
		},
		soak ? 660_000 : 60_000
	);
});
