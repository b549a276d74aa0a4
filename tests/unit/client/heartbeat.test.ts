import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { heartbeat as createHeartbeat } from '../../../src/lib/client/heartbeat.js';

const INTERVAL = 25_000;
const TIMEOUT = 5_000;
const HOUR = 3_600_000;

function setup(interval = INTERVAL, timeout = TIMEOUT) {
	const ping = vi.fn<() => void>();
	const onTimeout = vi.fn<() => void>();
	const heartbeat = createHeartbeat(interval, timeout, ping, onTimeout);
	return { heartbeat, ping, onTimeout };
}

/** Moves the wall clock forward without running timers, like a laptop waking from sleep. */
function sleepFor(ms: number): void {
	vi.setSystemTime(Date.now() + ms);
}

describe('heartbeat', () => {
	let stop: (() => void) | undefined;

	beforeEach(() => {
		vi.useFakeTimers();
		vi.setSystemTime(new Date('2024-01-01T00:00:00Z'));
	});

	afterEach(() => {
		stop?.();
		stop = undefined;
		vi.useRealTimers();
	});

	function started(interval = INTERVAL, timeout = TIMEOUT) {
		const parts = setup(interval, timeout);
		stop = () => parts.heartbeat.stop();
		parts.heartbeat.start();
		return parts;
	}

	it('does nothing until started', () => {
		const { ping, onTimeout } = setup();
		vi.advanceTimersByTime(10 * INTERVAL);
		expect(ping).not.toHaveBeenCalled();
		expect(onTimeout).not.toHaveBeenCalled();
	});

	it('pings once per interval while every ping is answered', () => {
		const { heartbeat, ping, onTimeout } = started();
		vi.advanceTimersByTime(INTERVAL - 1);
		expect(ping).not.toHaveBeenCalled();
		for (let n = 1; n <= 5; n++) {
			vi.advanceTimersByTime(1);
			expect(ping).toHaveBeenCalledTimes(n);
			vi.advanceTimersByTime(100);
			heartbeat.alive();
			// The next ping is a whole interval after the answer, not before.
			vi.advanceTimersByTime(INTERVAL - 1);
			expect(ping).toHaveBeenCalledTimes(n);
		}
		expect(onTimeout).not.toHaveBeenCalled();
	});

	it('calls onTimeout once when nothing arrives within timeout of a ping', () => {
		const { ping, onTimeout } = started();
		vi.advanceTimersByTime(INTERVAL);
		expect(ping).toHaveBeenCalledTimes(1);
		vi.advanceTimersByTime(TIMEOUT - 1);
		expect(onTimeout).not.toHaveBeenCalled();
		vi.advanceTimersByTime(1);
		expect(onTimeout).toHaveBeenCalledTimes(1);
		// The heartbeat has done its job: no more pings or timeouts until restarted.
		vi.advanceTimersByTime(10 * INTERVAL);
		expect(onTimeout).toHaveBeenCalledTimes(1);
		expect(ping).toHaveBeenCalledTimes(1);
	});

	it('alive() after a ping cancels the deadline and schedules the next ping', () => {
		const { heartbeat, ping, onTimeout } = started();
		vi.advanceTimersByTime(INTERVAL);
		vi.advanceTimersByTime(TIMEOUT - 1);
		heartbeat.alive();
		vi.advanceTimersByTime(TIMEOUT);
		expect(onTimeout).not.toHaveBeenCalled();
		vi.advanceTimersByTime(INTERVAL - TIMEOUT - 1);
		expect(ping).toHaveBeenCalledTimes(1);
		vi.advanceTimersByTime(1);
		expect(ping).toHaveBeenCalledTimes(2);
		// That second ping goes unanswered.
		vi.advanceTimersByTime(TIMEOUT);
		expect(onTimeout).toHaveBeenCalledTimes(1);
	});

	it('alive() between pings neither pings nor postpones the next ping', () => {
		const { heartbeat, ping } = started();
		vi.advanceTimersByTime(INTERVAL - 10);
		heartbeat.alive();
		heartbeat.alive();
		expect(ping).not.toHaveBeenCalled();
		vi.advanceTimersByTime(10);
		expect(ping).toHaveBeenCalledTimes(1);
	});

	it('stop() cancels both the next ping and a pending deadline', () => {
		const { heartbeat, ping, onTimeout } = started();
		vi.advanceTimersByTime(INTERVAL);
		heartbeat.stop();
		vi.advanceTimersByTime(10 * INTERVAL);
		expect(onTimeout).not.toHaveBeenCalled();
		expect(ping).toHaveBeenCalledTimes(1);
		// After stop, a check pings again: stop() forgot the unanswered ping.
		heartbeat.check();
		expect(ping).toHaveBeenCalledTimes(2);
	});

	it.each([0, -1])(
		'is off with interval %i: no pings, no timeouts, check() does nothing',
		(interval) => {
			const { heartbeat, ping, onTimeout } = started(interval);
			heartbeat.check();
			heartbeat.alive();
			heartbeat.start();
			vi.advanceTimersByTime(10 * (INTERVAL + TIMEOUT));
			expect(ping).not.toHaveBeenCalled();
			expect(onTimeout).not.toHaveBeenCalled();
			expect(vi.getTimerCount()).toBe(0);
		}
	);

	describe('check()', () => {
		it('pings at once and starts the deadline', () => {
			const { heartbeat, ping, onTimeout } = started();
			vi.advanceTimersByTime(1_000);
			heartbeat.check();
			expect(ping).toHaveBeenCalledTimes(1);
			vi.advanceTimersByTime(TIMEOUT - 1);
			expect(onTimeout).not.toHaveBeenCalled();
			vi.advanceTimersByTime(1);
			expect(onTimeout).toHaveBeenCalledTimes(1);
		});

		it('does not ping again while a check is already waiting for an answer', () => {
			const { heartbeat, ping, onTimeout } = started();
			heartbeat.check();
			vi.advanceTimersByTime(TIMEOUT - 100);
			heartbeat.check();
			heartbeat.check();
			expect(ping).toHaveBeenCalledTimes(1);
			// And the deadline is the first check's, not pushed back by the later calls.
			vi.advanceTimersByTime(100);
			expect(onTimeout).toHaveBeenCalledTimes(1);
		});

		it('is answered by alive() like a scheduled ping', () => {
			const { heartbeat, ping, onTimeout } = started();
			heartbeat.check();
			heartbeat.alive();
			vi.advanceTimersByTime(INTERVAL - 1);
			expect(ping).toHaveBeenCalledTimes(1);
			expect(onTimeout).not.toHaveBeenCalled();
			vi.advanceTimersByTime(1);
			expect(ping).toHaveBeenCalledTimes(2);
		});

		it('works without start()', () => {
			const { heartbeat, ping, onTimeout } = setup();
			stop = () => heartbeat.stop();
			heartbeat.check();
			expect(ping).toHaveBeenCalledTimes(1);
			vi.advanceTimersByTime(TIMEOUT);
			expect(onTimeout).toHaveBeenCalledTimes(1);
		});
	});

	describe('a deadline that fires far later than due (the machine slept)', () => {
		it('does not call onTimeout but pings again with a fresh deadline', () => {
			const { ping, onTimeout } = started();
			vi.advanceTimersByTime(INTERVAL);
			expect(ping).toHaveBeenCalledTimes(1);
			sleepFor(HOUR);
			vi.advanceTimersByTime(TIMEOUT);
			expect(onTimeout).not.toHaveBeenCalled();
			expect(ping).toHaveBeenCalledTimes(2);
			// The fresh deadline is a real one: unanswered, it times out on time.
			vi.advanceTimersByTime(TIMEOUT - 1);
			expect(onTimeout).not.toHaveBeenCalled();
			vi.advanceTimersByTime(1);
			expect(onTimeout).toHaveBeenCalledTimes(1);
			expect(ping).toHaveBeenCalledTimes(2);
		});

		it('keeps the connection when the fresh ping is answered', () => {
			const { heartbeat, ping, onTimeout } = started();
			vi.advanceTimersByTime(INTERVAL);
			sleepFor(HOUR);
			vi.advanceTimersByTime(TIMEOUT);
			expect(ping).toHaveBeenCalledTimes(2);
			heartbeat.alive();
			vi.advanceTimersByTime(INTERVAL - 1);
			expect(onTimeout).not.toHaveBeenCalled();
			expect(ping).toHaveBeenCalledTimes(2);
			vi.advanceTimersByTime(1);
			expect(ping).toHaveBeenCalledTimes(3);
		});

		it('still times out when the deadline is late by less than the timeout', () => {
			const { ping, onTimeout } = started();
			vi.advanceTimersByTime(INTERVAL);
			sleepFor(TIMEOUT - 1);
			vi.advanceTimersByTime(TIMEOUT);
			expect(onTimeout).toHaveBeenCalledTimes(1);
			expect(ping).toHaveBeenCalledTimes(1);
		});

		it('pings when the interval timer itself fires late', () => {
			const { ping, onTimeout } = started();
			vi.advanceTimersByTime(INTERVAL - 1);
			sleepFor(HOUR);
			vi.advanceTimersByTime(1);
			expect(ping).toHaveBeenCalledTimes(1);
			vi.advanceTimersByTime(TIMEOUT);
			expect(onTimeout).toHaveBeenCalledTimes(1);
		});
	});

	it('counts an answer that arrives while the ping is being sent', () => {
		// A transport may deliver the pong before send() returns (a synchronous or in-memory socket).
		// Known failure: check() calls ping() before it schedules the deadline, so the alive() inside
		// ping() schedules the next ping and the deadline then overwrites it with awaitingPong false:
		// onTimeout fires although the ping was answered.
		const onTimeout = vi.fn<() => void>();
		const ping = vi.fn<() => void>(() => heartbeat.alive());
		const heartbeat = createHeartbeat(INTERVAL, TIMEOUT, ping, onTimeout);
		stop = () => heartbeat.stop();
		heartbeat.start();
		vi.advanceTimersByTime(INTERVAL);
		expect(ping).toHaveBeenCalledTimes(1);
		vi.advanceTimersByTime(TIMEOUT);
		expect(onTimeout).not.toHaveBeenCalled();
		vi.advanceTimersByTime(INTERVAL - TIMEOUT);
		expect(ping).toHaveBeenCalledTimes(2);
	});
});
