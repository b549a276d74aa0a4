import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { watchEnvironment, type EnvironmentHandlers } from '../../../src/lib/client/environment.js';
import { FakeDocument, FakeWindow, PageTransition } from '../../kit/page.js';

function handlers() {
	const calls: string[] = [];
	const spies = {
		pause: vi.fn<EnvironmentHandlers['pause']>((close) => void calls.push(`pause(${close})`)),
		resume: vi.fn<EnvironmentHandlers['resume']>(() => void calls.push('resume')),
		check: vi.fn<EnvironmentHandlers['check']>(() => void calls.push('check'))
	};
	return { ...spies, calls };
}

describe('watchEnvironment', () => {
	let window: FakeWindow;
	let document: FakeDocument;
	let h: ReturnType<typeof handlers>;
	let stop: () => void;

	const fire = (target: EventTarget, type: string) => target.dispatchEvent(new Event(type));
	const hide = () => {
		document.visibilityState = 'hidden';
		fire(document, 'visibilitychange');
	};
	const show = () => {
		document.visibilityState = 'visible';
		fire(document, 'visibilitychange');
	};
	const offline = () => {
		window.navigator.onLine = false;
		fire(window, 'offline');
	};
	const online = () => {
		window.navigator.onLine = true;
		fire(window, 'online');
	};

	beforeEach(() => {
		window = new FakeWindow();
		document = new FakeDocument();
		h = handlers();
	});

	afterEach(() => stop?.());

	describe('with an online, visible page', () => {
		beforeEach(() => {
			stop = watchEnvironment(window, document, h);
		});

		it('calls nothing at start', () => {
			expect(h.calls).toEqual([]);
		});

		it('offline pauses and closes; online resumes and checks', () => {
			offline();
			expect(h.calls).toEqual(['pause(true)']);
			online();
			expect(h.calls).toEqual(['pause(true)', 'resume', 'check']);
		});

		it('hidden pauses without closing; visible resumes and checks', () => {
			hide();
			expect(h.calls).toEqual(['pause(false)']);
			show();
			expect(h.calls).toEqual(['pause(false)', 'resume', 'check']);
		});

		it('reads visibilityState at the time of the event', () => {
			document.visibilityState = 'hidden';
			expect(h.calls).toEqual([]);
			fire(document, 'visibilitychange');
			expect(h.calls).toEqual(['pause(false)']);
		});

		it('pagehide into the back/forward cache pauses and closes; pageshow out of it resumes and checks', () => {
			window.dispatchEvent(new PageTransition('pagehide', true));
			expect(h.calls).toEqual(['pause(true)']);
			window.dispatchEvent(new PageTransition('pageshow', true));
			expect(h.calls).toEqual(['pause(true)', 'resume', 'check']);
		});

		it('ignores pagehide and pageshow that are not about the back/forward cache', () => {
			window.dispatchEvent(new PageTransition('pagehide', false));
			window.dispatchEvent(new PageTransition('pageshow', false));
			fire(window, 'pagehide');
			fire(window, 'pageshow');
			expect(h.calls).toEqual([]);
		});

		it('does not resume on online while the page is still hidden', () => {
			offline();
			hide();
			expect(h.pause).toHaveBeenCalledTimes(2);
			online();
			expect(h.resume).not.toHaveBeenCalled();
			show();
			expect(h.resume).toHaveBeenCalledTimes(1);
			expect(h.calls.at(-2)).toBe('resume');
			expect(h.calls.at(-1)).toBe('check');
		});

		it('does not resume on visible while still offline', () => {
			hide();
			offline();
			show();
			expect(h.resume).not.toHaveBeenCalled();
			online();
			expect(h.resume).toHaveBeenCalledTimes(1);
		});

		it('does not resume on pageshow while still offline, nor on online while still frozen', () => {
			offline();
			window.dispatchEvent(new PageTransition('pagehide', true));
			window.dispatchEvent(new PageTransition('pageshow', true));
			expect(h.resume).not.toHaveBeenCalled();
			window.dispatchEvent(new PageTransition('pagehide', true));
			online();
			expect(h.resume).not.toHaveBeenCalled();
			window.dispatchEvent(new PageTransition('pageshow', true));
			expect(h.resume).toHaveBeenCalledTimes(1);
		});

		it('follows the browser order of a trip through the back/forward cache', () => {
			// Leaving: visibilitychange(hidden), then pagehide(persisted). Coming back: the reverse.
			hide();
			window.dispatchEvent(new PageTransition('pagehide', true));
			window.dispatchEvent(new PageTransition('pageshow', true));
			expect(h.resume).not.toHaveBeenCalled();
			show();
			expect(h.calls).toEqual(['pause(false)', 'pause(true)', 'check', 'resume', 'check']);
		});

		it('counts a blocker once however often its event repeats', () => {
			offline();
			offline();
			online();
			expect(h.resume).toHaveBeenCalledTimes(1);
		});
	});

	describe('at start', () => {
		it('pauses as unreachable when the browser is already offline, and resumes on online', () => {
			window.navigator.onLine = false;
			stop = watchEnvironment(window, document, h);
			expect(h.calls).toEqual(['pause(true)']);
			online();
			expect(h.calls).toEqual(['pause(true)', 'resume', 'check']);
		});

		it('pauses without closing when the document is already hidden, and resumes when visible', () => {
			document.visibilityState = 'hidden';
			stop = watchEnvironment(window, document, h);
			expect(h.calls).toEqual(['pause(false)']);
			show();
			expect(h.calls).toEqual(['pause(false)', 'resume', 'check']);
		});

		it('tracks both initial blockers: online alone does not resume a hidden page', () => {
			window.navigator.onLine = false;
			document.visibilityState = 'hidden';
			stop = watchEnvironment(window, document, h);
			expect(h.pause).toHaveBeenCalledTimes(2);
			expect(h.pause).toHaveBeenNthCalledWith(1, true);
			expect(h.pause).toHaveBeenNthCalledWith(2, false);
			online();
			expect(h.resume).not.toHaveBeenCalled();
			show();
			expect(h.resume).toHaveBeenCalledTimes(1);
		});

		it('does not pause when navigator.onLine is unknown', () => {
			window.navigator = {};
			stop = watchEnvironment(window, document, h);
			expect(h.calls).toEqual([]);
		});

		it('works with no window and no document at all', () => {
			stop = watchEnvironment(undefined, undefined, h);
			expect(h.calls).toEqual([]);
			expect(() => stop()).not.toThrow();
		});

		it('works with a window but no document, and the reverse', () => {
			stop = watchEnvironment(window, undefined, h);
			offline();
			online();
			expect(h.calls).toEqual(['pause(true)', 'resume', 'check']);
			stop();
			const other = handlers();
			stop = watchEnvironment(undefined, document, other);
			hide();
			show();
			expect(other.calls).toEqual(['pause(false)', 'resume', 'check']);
		});
	});

	describe('the returned function', () => {
		it('removes every listener: events after it call nothing', () => {
			stop = watchEnvironment(window, document, h);
			stop();
			offline();
			online();
			hide();
			show();
			window.dispatchEvent(new PageTransition('pagehide', true));
			window.dispatchEvent(new PageTransition('pageshow', true));
			expect(h.calls).toEqual([]);
		});

		it('removes exactly the listeners it added, from the targets it added them to', () => {
			const added: [EventTarget, string, unknown][] = [];
			const removed: [EventTarget, string, unknown][] = [];
			for (const target of [window, document]) {
				const add = target.addEventListener.bind(target);
				const remove = target.removeEventListener.bind(target);
				vi.spyOn(target, 'addEventListener').mockImplementation((type, listener) => {
					added.push([target, type, listener]);
					add(type, listener);
				});
				vi.spyOn(target, 'removeEventListener').mockImplementation((type, listener) => {
					removed.push([target, type, listener]);
					remove(type, listener);
				});
			}
			stop = watchEnvironment(window, document, h);
			expect(
				added.map(([target, type]) => [target === window ? 'window' : 'document', type])
			).toEqual(
				expect.arrayContaining([
					['window', 'online'],
					['window', 'offline'],
					['window', 'pagehide'],
					['window', 'pageshow'],
					['document', 'visibilitychange']
				])
			);
			expect(removed).toEqual([]);
			stop();
			expect(removed).toHaveLength(added.length);
			expect(removed).toEqual(expect.arrayContaining(added));
		});

		it('leaves listeners that others added in place', () => {
			const other = vi.fn();
			window.addEventListener('online', other);
			stop = watchEnvironment(window, document, h);
			stop();
			online();
			expect(other).toHaveBeenCalledTimes(1);
			expect(h.calls).toEqual([]);
		});
	});
});
